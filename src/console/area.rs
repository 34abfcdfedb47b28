//! Through which door a console page was asked for: `/console` (the
//! operator's) or `/portal` (one tenant's). The area is the address, known
//! before anyone signs in; who may look is the session's `Caller`
//! (`crate::api::auth`), decided as the API decides it. A portal session is
//! never accepted under `/console`, nor an operator's under `/portal`, so a
//! page can trust the pair.

use crate::api::auth::Caller;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    /// `/console`: the operator's.
    Console,
    /// `/portal`: one tenant's.
    Portal,
}

impl Area {
    pub fn base(self) -> &'static str {
        match self {
            Area::Console => "/console",
            Area::Portal => "/portal",
        }
    }

    /// The session cookie of this area; each has its own, so an operator can
    /// open a tenant's portal in the same browser without leaving the console.
    pub fn cookie(self) -> &'static str {
        match self {
            Area::Console => "hookrelay_console",
            Area::Portal => "hookrelay_portal",
        }
    }

    pub fn of(path: &str) -> Area {
        if path == "/portal" || path.starts_with("/portal/") {
            Area::Portal
        } else {
            Area::Console
        }
    }

    /// The area whose sessions may hold `caller`.
    pub fn of_caller(caller: &Caller) -> Area {
        match caller {
            Caller::Operator => Area::Console,
            Caller::Tenant(_) => Area::Portal,
        }
    }
}
