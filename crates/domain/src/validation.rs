use serde::Serialize;

/// One refused field, named by its JSON path (`owner.email`, `items[2].quantity`) so a client can point at it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Every field a client got wrong, collected in one pass so the client can fix them all at once.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
#[error("{} invalid field(s): {}", .0.len(), summary(.0))]
pub struct ValidationErrors(pub Vec<FieldError>);

fn summary(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl ValidationErrors {
    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = Self::default();
        errors.push(field, message);
        errors
    }

    /// `Ok(value)` when nothing was refused, so constructors can end with `errors.into_result(value)`.
    pub fn into_result<T>(self, value: T) -> Result<T, Self> {
        if self.0.is_empty() { Ok(value) } else { Err(self) }
    }
}

/// Trims a human-entered name and checks its length in characters (not bytes), refusing control characters.
pub fn clean_text(
    errors: &mut ValidationErrors,
    field: &str,
    raw: &str,
    min_chars: usize,
    max_chars: usize,
) -> String {
    let trimmed = raw.trim();
    let chars = trimmed.chars().count();
    if chars < min_chars {
        errors.push(
            field,
            if min_chars == 1 {
                "must not be empty".into()
            } else {
                format!("must have at least {min_chars} characters")
            },
        );
    } else if chars > max_chars {
        errors.push(field, format!("must have at most {max_chars} characters"));
    } else if trimmed.chars().any(|c| c.is_control() && c != '\n') {
        errors.push(field, "must not contain control characters");
    }
    trimmed.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_measured_in_characters() {
        let mut errors = ValidationErrors::default();
        assert_eq!(
            clean_text(&mut errors, "name", "  Café Ñandú  ", 1, 10),
            "Café Ñandú"
        );
        assert!(errors.0.is_empty());
        clean_text(&mut errors, "name", "   ", 1, 10);
        clean_text(&mut errors, "other", "a\u{7}b", 1, 10);
        assert_eq!(
            errors.0.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(),
            ["name", "other"]
        );
    }
}
