//! Roles, permissions and who must use a second factor: one matrix, decided here and nowhere else.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::VenueId;

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

/// Which of the partner's venues a member works at. Owners and anyone holding payout authority work at every venue
/// (the partner's account and its payouts span them all); the others may be limited to some, and see and change
/// nothing of the rest — an owner of two restaurants hires a server for one of them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Venues {
    #[default]
    Every,
    /// Never empty ([`Venues::only`]).
    Only(BTreeSet<VenueId>),
}

/// Why a member cannot be given the venues asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VenuesError {
    #[error("name at least one venue, or null for every venue")]
    Empty,
    #[error("owners work at every venue: give null (every venue) with the role")]
    Owner,
    #[error("payout authority spans every venue: give null (every venue) with it")]
    PayoutAuthority,
}

impl Venues {
    /// `None` (no list) is every venue; an empty list is refused rather than read as none or all.
    pub fn only(venues: impl IntoIterator<Item = VenueId>) -> Result<Self, VenuesError> {
        let set: BTreeSet<VenueId> = venues.into_iter().collect();
        if set.is_empty() {
            return Err(VenuesError::Empty);
        }
        Ok(Venues::Only(set))
    }

    /// The rule a standing puts on venues: owners and payout authority work at every venue.
    pub fn check(&self, standing: Standing) -> Result<(), VenuesError> {
        match self {
            Venues::Every => Ok(()),
            Venues::Only(_) if standing.role == Role::Owner => Err(VenuesError::Owner),
            Venues::Only(_) if standing.payout_authority => Err(VenuesError::PayoutAuthority),
            Venues::Only(set) if set.is_empty() => Err(VenuesError::Empty),
            Venues::Only(_) => Ok(()),
        }
    }

    pub fn includes(&self, venue: VenueId) -> bool {
        match self {
            Venues::Every => true,
            Venues::Only(set) => set.contains(&venue),
        }
    }

    /// Whether every venue of `other` is one of these: a manager may hire, change or remove only a member whose
    /// venues they work at themselves, and give them no venue beyond their own.
    pub fn covers(&self, other: &Venues) -> bool {
        match (self, other) {
            (Venues::Every, _) => true,
            (Venues::Only(_), Venues::Every) => false,
            (Venues::Only(mine), Venues::Only(theirs)) => theirs.is_subset(mine),
        }
    }

    /// Whether the two share a venue (colleagues a limited manager sees in the staff list).
    pub fn overlaps(&self, other: &Venues) -> bool {
        match (self, other) {
            (Venues::Every, _) | (_, Venues::Every) => true,
            (Venues::Only(a), Venues::Only(b)) => !a.is_disjoint(b),
        }
    }

    /// The listed venues, `None` for every venue (the wire and the store write it so).
    pub fn listed(&self) -> Option<Vec<VenueId>> {
        match self {
            Venues::Every => None,
            Venues::Only(set) => Some(set.iter().copied().collect()),
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

    #[test]
    fn venues_a_standing_may_be_limited_to() {
        let a = VenueId::mint();
        let b = VenueId::mint();
        let server = Standing {
            role: Role::Server,
            payout_authority: false,
        };
        let only_a = Venues::only([a]).unwrap();
        assert_eq!(only_a.check(server), Ok(()));
        assert_eq!(Venues::only([]), Err(VenuesError::Empty));
        let owner = Standing {
            role: Role::Owner,
            payout_authority: false,
        };
        assert_eq!(only_a.check(owner), Err(VenuesError::Owner));
        assert_eq!(Venues::Every.check(owner), Ok(()));
        let paying = Standing {
            role: Role::Manager,
            payout_authority: true,
        };
        assert_eq!(only_a.check(paying), Err(VenuesError::PayoutAuthority));
        assert!(only_a.includes(a) && !only_a.includes(b));
        assert!(Venues::Every.includes(b));
    }

    #[test]
    fn a_limited_manager_covers_only_their_own_venues() {
        let (a, b, c) = (VenueId::mint(), VenueId::mint(), VenueId::mint());
        let ab = Venues::only([a, b]).unwrap();
        let a_only = Venues::only([a]).unwrap();
        let c_only = Venues::only([c]).unwrap();
        assert!(Venues::Every.covers(&ab) && Venues::Every.covers(&Venues::Every));
        assert!(ab.covers(&a_only) && ab.covers(&ab));
        assert!(!ab.covers(&Venues::Every) && !ab.covers(&c_only) && !a_only.covers(&ab));
        assert!(ab.overlaps(&a_only) && !ab.overlaps(&c_only) && c_only.overlaps(&Venues::Every));
        assert_eq!(Venues::Every.listed(), None);
        assert_eq!(a_only.listed(), Some(vec![a]));
    }
}
