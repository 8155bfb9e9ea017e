//! Roles, permissions and who must use a second factor: one matrix, decided here and nowhere else.

use serde::{Deserialize, Serialize};

/// A staff member's role within one partner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Manager,
    Server,
    Kitchen,
    /// Front of house: reservations and the waitlist.
    Host,
    /// Read-only reports.
    Analyst,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Owner,
        Role::Manager,
        Role::Server,
        Role::Kitchen,
        Role::Host,
        Role::Analyst,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Manager => "manager",
            Role::Server => "server",
            Role::Kitchen => "kitchen",
            Role::Host => "host",
            Role::Analyst => "analyst",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// The role as a person reads it in a message: English or Spanish (Colombia), as the staff pages name it.
    pub fn spoken(self, spanish: bool) -> &'static str {
        match (self, spanish) {
            (Role::Owner, true) => "propietario",
            (Role::Manager, true) => "gerente",
            (Role::Server, true) => "mesero",
            (Role::Kitchen, true) => "cocina",
            (Role::Host, true) => "anfitrión",
            (Role::Analyst, true) => "analista",
            (role, false) => role.as_str(),
        }
    }
}

/// What a request may do. Every route declares the one it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Read and manage one's own account: profile, second factor, sessions.
    OwnAccount,
    /// Invite staff, change roles, remove staff.
    ManageStaff,
    /// Create and edit venues, tables and menus.
    ManageVenues,
    ViewVenues,
    /// Accept, advance and cancel orders; close tables whose bill is settled.
    ManageOrders,
    /// Close a table whose bill is not paid in full (paid in cash at the table, or never): the servers who take the
    /// cash, managers and owners — never the kitchen, which handles no bill. Audited with what was left.
    SettleBills,
    ViewKitchen,
    ManageReservations,
    ViewAnalytics,
    /// Read the partner's audit log and operator-access record.
    ViewAudit,
    IssueRefunds,
    /// Connected-account onboarding, payout details and balance.
    ManagePayouts,
}

impl Permission {
    pub const ALL: [Permission; 12] = [
        Permission::OwnAccount,
        Permission::ManageStaff,
        Permission::ManageVenues,
        Permission::ViewVenues,
        Permission::ManageOrders,
        Permission::SettleBills,
        Permission::ViewKitchen,
        Permission::ManageReservations,
        Permission::ViewAnalytics,
        Permission::ViewAudit,
        Permission::IssueRefunds,
        Permission::ManagePayouts,
    ];
}

/// A staff member's standing: role plus the payout-authority flag, which any role may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub role: Role,
    pub payout_authority: bool,
}

impl Standing {
    pub fn allows(self, permission: Permission) -> bool {
        use Permission as P;
        use Role as R;
        let by_role = match permission {
            P::OwnAccount | P::ViewVenues => true,
            P::ManageStaff | P::ManageVenues => matches!(self.role, R::Owner | R::Manager),
            P::ManageOrders => matches!(self.role, R::Owner | R::Manager | R::Server | R::Kitchen),
            P::SettleBills => matches!(self.role, R::Owner | R::Manager | R::Server),
            P::ViewKitchen => matches!(self.role, R::Owner | R::Manager | R::Server | R::Kitchen),
            P::ManageReservations => matches!(self.role, R::Owner | R::Manager | R::Host),
            P::ViewAnalytics => matches!(self.role, R::Owner | R::Manager | R::Analyst),
            P::ViewAudit => self.role == R::Owner,
            P::IssueRefunds => matches!(self.role, R::Owner | R::Manager),
            P::ManagePayouts => false,
        };
        let by_authority = self.payout_authority && matches!(permission, P::ManagePayouts | P::IssueRefunds);
        by_role || by_authority
    }

    pub fn permissions(self) -> Vec<Permission> {
        Permission::ALL.into_iter().filter(|p| self.allows(*p)).collect()
    }

    /// AUTH-5: owners, managers and anyone with payout authority must use a second factor.
    pub fn requires_second_factor(self) -> bool {
        self.payout_authority || matches!(self.role, Role::Owner | Role::Manager)
    }

    /// Whether this member may give `target` the standing `new` (inviting, changing or removing). Owners manage
    /// everyone; managers manage the floor roles only and never grant payout authority.
    pub fn may_assign(self, target: Option<Standing>, new: Option<Standing>) -> bool {
        let floor = |s: Standing| !s.payout_authority && !matches!(s.role, Role::Owner | Role::Manager);
        match self.role {
            Role::Owner => true,
            Role::Manager => target.is_none_or(floor) && new.is_none_or(floor),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Permission as P;

    /// The whole matrix, cell by cell: (role, permissions without payout authority).
    const MATRIX: [(Role, &[Permission]); 6] = [
        (
            Role::Owner,
            &[
                P::OwnAccount,
                P::ManageStaff,
                P::ManageVenues,
                P::ViewVenues,
                P::ManageOrders,
                P::SettleBills,
                P::ViewKitchen,
                P::ManageReservations,
                P::ViewAnalytics,
                P::ViewAudit,
                P::IssueRefunds,
            ],
        ),
        (
            Role::Manager,
            &[
                P::OwnAccount,
                P::ManageStaff,
                P::ManageVenues,
                P::ViewVenues,
                P::ManageOrders,
                P::SettleBills,
                P::ViewKitchen,
                P::ManageReservations,
                P::ViewAnalytics,
                P::IssueRefunds,
            ],
        ),
        (
            Role::Server,
            &[
                P::OwnAccount,
                P::ViewVenues,
                P::ManageOrders,
                P::SettleBills,
                P::ViewKitchen,
            ],
        ),
        (
            Role::Kitchen,
            &[P::OwnAccount, P::ViewVenues, P::ManageOrders, P::ViewKitchen],
        ),
        (Role::Host, &[P::OwnAccount, P::ViewVenues, P::ManageReservations]),
        (Role::Analyst, &[P::OwnAccount, P::ViewVenues, P::ViewAnalytics]),
    ];

    #[test]
    fn permission_matrix_cell_by_cell() {
        for (role, granted) in MATRIX {
            for permission in Permission::ALL {
                let standing = Standing {
                    role,
                    payout_authority: false,
                };
                assert_eq!(
                    standing.allows(permission),
                    granted.contains(&permission),
                    "{role:?} × {permission:?}"
                );
                // Payout authority adds exactly payouts and refunds, to any role.
                let with_authority = Standing {
                    role,
                    payout_authority: true,
                };
                let expected =
                    granted.contains(&permission) || matches!(permission, P::ManagePayouts | P::IssueRefunds);
                assert_eq!(
                    with_authority.allows(permission),
                    expected,
                    "{role:?}+payout × {permission:?}"
                );
            }
        }
    }

    #[test]
    fn second_factor_is_required_for_owner_manager_and_payout_authority() {
        for role in Role::ALL {
            let plain = Standing {
                role,
                payout_authority: false,
            };
            assert_eq!(
                plain.requires_second_factor(),
                matches!(role, Role::Owner | Role::Manager),
                "{role:?}"
            );
            assert!(
                Standing {
                    role,
                    payout_authority: true
                }
                .requires_second_factor(),
                "{role:?}+payout"
            );
        }
    }

    #[test]
    fn managers_manage_only_the_floor() {
        let manager = Standing {
            role: Role::Manager,
            payout_authority: false,
        };
        let owner = Standing {
            role: Role::Owner,
            payout_authority: false,
        };
        let server = Standing {
            role: Role::Server,
            payout_authority: false,
        };
        let kitchen = Standing {
            role: Role::Kitchen,
            payout_authority: false,
        };
        let paying_server = Standing {
            role: Role::Server,
            payout_authority: true,
        };
        assert!(manager.may_assign(None, Some(server)));
        assert!(manager.may_assign(Some(server), Some(kitchen)));
        assert!(manager.may_assign(Some(server), None));
        assert!(!manager.may_assign(None, Some(manager)));
        assert!(!manager.may_assign(Some(owner), None));
        assert!(!manager.may_assign(Some(server), Some(paying_server)));
        assert!(owner.may_assign(Some(manager), Some(paying_server)));
        assert!(!server.may_assign(None, Some(kitchen)));
    }

    #[test]
    fn role_names_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("admin"), None);
    }
}
