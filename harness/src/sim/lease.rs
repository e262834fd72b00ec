//! Leases on blobs and containers (Lease Blob, Lease Container): a lease is a value, changed
//! by the time and by one table of transitions, as Azure and Azurite 3.35 decide them.
//!
//! A lease is in one of five states. Time moves two of them on: a fixed lease past its end is
//! `expired`, a breaking lease past its break time is `broken`. The actions of a Lease request
//! move them as this table says (`id` is the request's `x-ms-lease-id`, `proposed` its
//! `x-ms-proposed-lease-id`; "refused" names the error code, status 409 unless said):
//!
//! | state     | acquire                                   | renew (`id`)                         | change (`id`, `proposed`)                  | release (`id`)        | break (`period`)                            |
//! |-----------|-------------------------------------------|--------------------------------------|--------------------------------------------|-----------------------|---------------------------------------------|
//! | available | leased                                    | refused: `LeaseIdMismatchWithLeaseOperation` | refused: `LeaseNotPresentWithLeaseOperation` | refused: `LeaseIdMismatchWithLeaseOperation` | refused: `LeaseNotPresentWithLeaseOperation` |
//! | leased    | leased again when `proposed` is its id, else refused: `LeaseAlreadyPresent` | leased anew for its duration when `id` is its id | leased under `proposed` when `id` or `proposed` is its id | available when `id` is its id | broken (infinite lease, no period; or period 0), else breaking until the earlier of its end and now + period |
//! | expired   | leased                                    | leased anew (any id)                 | refused: `LeaseNotPresentWithLeaseOperation` | available when `id` is its id | broken                                      |
//! | breaking  | refused: `LeaseIsBreakingAndCannotBeAcquired` (its id) or `LeaseAlreadyPresent` | refused: `LeaseIsBrokenAndCannotBeRenewed` (its id) | refused: `LeaseIsBreakingAndCannotBeChanged` (its id) | available when `id` is its id | unchanged (no period), broken (0), else breaking until the earlier break time |
//! | broken    | leased                                    | refused: `LeaseIsBrokenAndCannotBeRenewed` (its id) | refused: `LeaseNotPresentWithLeaseOperation` | available when `id` is its id | broken                                      |
//!
//! Where the table says "when `id` is its id", another id is refused with
//! `LeaseIdMismatchWithLeaseOperation`. A duration is -1 (infinite) or 15 to 60 seconds, a break
//! period 0 to 60: anything else is refused with 400 `InvalidHeaderValue`.
//!
//! A lease also guards the other operations. A leased or breaking blob is written (Put Blob,
//! Put Block, Put Block List, Set Blob Properties and Metadata, Delete Blob, Copy Blob onto it)
//! only with its lease id (412 `LeaseIdMissing`, `LeaseIdMismatchWithBlobOperation`); a lease id
//! sent to a blob without one is refused (412 `LeaseNotPresentWithBlobOperation`). A read with
//! a lease id is held to it the same way; a read without one is always served. A write to a blob
//! whose lease expired or was broken makes it available again. Containers follow the same rules
//! for Delete Container (written) and Get Container Properties and Set Container Metadata (read).

use std::time::{Duration, SystemTime};

/// A lease's state, as of the last time it was looked at ([`Lease::at`] brings it to now).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum Lease {
    /// No lease.
    #[default]
    Available,
    /// Leased under `id`, until `ends` (a fixed lease of `seconds`) or for ever.
    Leased {
        id: String,
        fixed: Option<(u32, SystemTime)>,
    },
    /// A fixed lease of `seconds` that ended without renewal: its id may still renew it.
    Expired { id: String, seconds: u32 },
    /// Broken at `at`; until then it still holds.
    Breaking { id: String, at: SystemTime },
    /// Broken: anybody may acquire it.
    Broken { id: String },
}

/// What a Lease request asks for (`x-ms-lease-action` and its headers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// `x-ms-lease-duration` (-1 or 15..=60), `x-ms-proposed-lease-id`.
    Acquire {
        duration: i64,
        proposed: Option<String>,
    },
    Renew {
        id: String,
    },
    Change {
        id: String,
        proposed: String,
    },
    Release {
        id: String,
    },
    /// `x-ms-lease-break-period` (0..=60).
    Break {
        period: Option<i64>,
    },
}

/// Why a Lease request or a guarded operation is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    AlreadyPresent,
    InvalidDuration,
    InvalidBreakPeriod,
    NotPresent,
    IdMismatch,
    BrokenCannotBeRenewed,
    BreakingCannotBeChanged,
    BreakingCannotBeAcquired,
    /// A guarded operation without the lease id.
    IdMissing,
    /// A guarded operation with another lease id.
    IdMismatchWithOperation,
    /// A guarded operation with a lease id, on something not leased.
    NotPresentWithOperation,
}

/// What leases guard: a blob or a container (their errors differ in words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Holder {
    Blob,
    Container,
}

impl Refusal {
    /// The status, error code and message Azure answers with.
    pub(crate) fn answer(self, holder: Holder) -> (u16, &'static str, &'static str) {
        let blob = holder == Holder::Blob;
        match self {
            Self::AlreadyPresent => (
                409,
                "LeaseAlreadyPresent",
                "There is already a lease present.",
            ),
            Self::InvalidDuration | Self::InvalidBreakPeriod => (
                400,
                "InvalidHeaderValue",
                "The value for one of the HTTP headers is not in the correct format.",
            ),
            Self::NotPresent => (
                409,
                "LeaseNotPresentWithLeaseOperation",
                "There is currently no lease on the container or blob.",
            ),
            Self::IdMismatch => (
                409,
                "LeaseIdMismatchWithLeaseOperation",
                "The lease ID specified did not match the lease ID for the container or blob.",
            ),
            Self::BrokenCannotBeRenewed => (
                409,
                "LeaseIsBrokenAndCannotBeRenewed",
                "The lease ID matched, but the lease has been broken explicitly and cannot be renewed.",
            ),
            Self::BreakingCannotBeChanged => (
                409,
                "LeaseIsBreakingAndCannotBeChanged",
                "The lease ID matched, but the lease is currently in breaking state and cannot be changed.",
            ),
            Self::BreakingCannotBeAcquired => (
                409,
                "LeaseIsBreakingAndCannotBeAcquired",
                "There is already a breaking lease, and can't  be acquired.",
            ),
            Self::IdMissing => (
                412,
                "LeaseIdMissing",
                if blob {
                    "There is currently a lease on the blob and no lease ID was specified in the request."
                } else {
                    "There is currently a lease on the container and no lease ID was specified in the request."
                },
            ),
            Self::IdMismatchWithOperation if blob => (
                412,
                "LeaseIdMismatchWithBlobOperation",
                "The lease ID specified did not match the lease ID for the blob.",
            ),
            Self::IdMismatchWithOperation => (
                412,
                "LeaseIdMismatchWithContainerOperation",
                "The lease ID specified did not match the lease ID for the container.",
            ),
            Self::NotPresentWithOperation if blob => (
                412,
                "LeaseNotPresentWithBlobOperation",
                "A lease ID was specified, but the lease for the blob has expired.",
            ),
            Self::NotPresentWithOperation => (
                412,
                "LeaseNotPresentWithContainerOperation",
                "A lease ID was specified, but the lease for the container has expired.",
            ),
        }
    }
}

/// What a granted Lease request answers with beyond its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Granted {
    /// `x-ms-lease-id` (acquire, renew, change).
    Id(String),
    /// Nothing more (release).
    Released,
    /// `x-ms-lease-time`: seconds until the lease is broken (break).
    BreaksIn(u64),
}

fn seconds(n: u32) -> Duration {
    Duration::from_secs(u64::from(n))
}

impl Lease {
    /// The lease as of `now`: a fixed lease past its end has expired, a breaking one past its
    /// break time is broken.
    pub(crate) fn at(&self, now: SystemTime) -> Self {
        match self {
            Self::Leased {
                id,
                fixed: Some((secs, ends)),
            } if *ends <= now => Self::Expired {
                id: id.clone(),
                seconds: *secs,
            },
            Self::Breaking { id, at } if *at <= now => Self::Broken { id: id.clone() },
            other => other.clone(),
        }
    }

    /// Whether it holds (`locked`): leased or breaking.
    pub(crate) fn locked(&self) -> bool {
        matches!(self, Self::Leased { .. } | Self::Breaking { .. })
    }

    /// `x-ms-lease-state`.
    pub(crate) fn state(&self) -> &'static str {
        match self {
            Self::Available => "available",
            Self::Leased { .. } => "leased",
            Self::Expired { .. } => "expired",
            Self::Breaking { .. } => "breaking",
            Self::Broken { .. } => "broken",
        }
    }

    /// `x-ms-lease-status`.
    pub(crate) fn status(&self) -> &'static str {
        if self.locked() { "locked" } else { "unlocked" }
    }

    /// `x-ms-lease-duration`, for a leased one.
    pub(crate) fn duration(&self) -> Option<&'static str> {
        match self {
            Self::Leased { fixed: None, .. } => Some("infinite"),
            Self::Leased { fixed: Some(_), .. } => Some("fixed"),
            _ => None,
        }
    }

    fn id(&self) -> Option<&str> {
        match self {
            Self::Available => None,
            Self::Leased { id, .. }
            | Self::Expired { id, .. }
            | Self::Breaking { id, .. }
            | Self::Broken { id } => Some(id),
        }
    }

    /// The lease after a Lease request at `now` (the lease as of `now`, see [`Lease::at`]);
    /// `fresh` is the id an acquire without a proposed one gets.
    pub(crate) fn apply(
        &self,
        action: &Action,
        now: SystemTime,
        fresh: String,
    ) -> Result<(Self, Granted), Refusal> {
        let current = self.at(now);
        let leased = |duration: i64, id: String| -> Result<(Self, Granted), Refusal> {
            let fixed = match duration {
                -1 => None,
                15..=60 => {
                    let secs = duration as u32;
                    Some((secs, now + seconds(secs)))
                }
                _ => return Err(Refusal::InvalidDuration),
            };
            Ok((
                Self::Leased {
                    id: id.clone(),
                    fixed,
                },
                Granted::Id(id),
            ))
        };
        let release = |id: &str| {
            if current.id() == Some(id) {
                Ok((Self::Available, Granted::Released))
            } else {
                Err(Refusal::IdMismatch)
            }
        };
        match (&current, action) {
            (Self::Available, Action::Release { .. } | Action::Renew { .. }) => {
                Err(Refusal::IdMismatch)
            }
            (Self::Available, Action::Change { .. } | Action::Break { .. }) => {
                Err(Refusal::NotPresent)
            }
            (
                Self::Available | Self::Expired { .. } | Self::Broken { .. },
                Action::Acquire { duration, proposed },
            ) => leased(*duration, proposed.clone().unwrap_or(fresh)),
            (Self::Leased { id, .. }, Action::Acquire { duration, proposed }) => {
                if proposed.as_deref() != Some(id.as_str()) {
                    return Err(Refusal::AlreadyPresent);
                }
                leased(*duration, id.clone())
            }
            (Self::Leased { id, fixed }, Action::Renew { id: given }) => {
                if given != id {
                    return Err(Refusal::IdMismatch);
                }
                let fixed = fixed.map(|(secs, _)| (secs, now + seconds(secs)));
                Ok((
                    Self::Leased {
                        id: id.clone(),
                        fixed,
                    },
                    Granted::Id(id.clone()),
                ))
            }
            (
                Self::Leased { id, fixed },
                Action::Change {
                    id: given,
                    proposed,
                },
            ) => {
                if given != id && proposed != id {
                    return Err(Refusal::IdMismatch);
                }
                Ok((
                    Self::Leased {
                        id: proposed.clone(),
                        fixed: *fixed,
                    },
                    Granted::Id(proposed.clone()),
                ))
            }
            (
                Self::Leased { .. }
                | Self::Expired { .. }
                | Self::Breaking { .. }
                | Self::Broken { .. },
                Action::Release { id },
            ) => release(id),
            (Self::Leased { id, fixed }, Action::Break { period }) => {
                let broken = Ok((Self::Broken { id: id.clone() }, Granted::BreaksIn(0)));
                let at = match (fixed, period) {
                    (_, Some(0)) | (None, None) => return broken,
                    (Some((_, ends)), None) => *ends,
                    (_, Some(p @ 1..=60)) => {
                        let asked = now + seconds(*p as u32);
                        fixed.map_or(asked, |(_, ends)| ends.min(asked))
                    }
                    (_, Some(_)) => return Err(Refusal::InvalidBreakPeriod),
                };
                Ok(Self::breaking(id.clone(), at, now))
            }
            (Self::Expired { id, seconds: secs }, Action::Renew { .. }) => Ok((
                Self::Leased {
                    id: id.clone(),
                    fixed: Some((*secs, now + seconds(*secs))),
                },
                Granted::Id(id.clone()),
            )),
            (Self::Expired { .. } | Self::Broken { .. }, Action::Change { .. }) => {
                Err(Refusal::NotPresent)
            }
            (Self::Expired { id, .. } | Self::Broken { id }, Action::Break { .. }) => {
                Ok((Self::Broken { id: id.clone() }, Granted::BreaksIn(0)))
            }
            (Self::Breaking { id, .. }, Action::Acquire { proposed, .. }) => {
                Err(if proposed.as_deref() == Some(id.as_str()) {
                    Refusal::BreakingCannotBeAcquired
                } else {
                    Refusal::AlreadyPresent
                })
            }
            (Self::Breaking { id, .. } | Self::Broken { id }, Action::Renew { id: given }) => {
                Err(if given == id {
                    Refusal::BrokenCannotBeRenewed
                } else {
                    Refusal::IdMismatch
                })
            }
            (Self::Breaking { id, .. }, Action::Change { id: given, .. }) => Err(if given == id {
                Refusal::BreakingCannotBeChanged
            } else {
                Refusal::IdMismatch
            }),
            (Self::Breaking { id, at }, Action::Break { period }) => match period {
                None => Ok(Self::breaking(id.clone(), *at, now)),
                Some(0) => Ok((Self::Broken { id: id.clone() }, Granted::BreaksIn(0))),
                Some(p @ 1..=60) => {
                    let asked = now + seconds(*p as u32);
                    Ok(Self::breaking(id.clone(), (*at).min(asked), now))
                }
                Some(_) => Err(Refusal::InvalidBreakPeriod),
            },
        }
    }

    fn breaking(id: String, at: SystemTime, now: SystemTime) -> (Self, Granted) {
        let left = at.duration_since(now).unwrap_or_default();
        // Azurite rounds the seconds left to the nearest.
        let secs = (left.as_millis() as u64 + 500) / 1000;
        (Self::Breaking { id, at }, Granted::BreaksIn(secs))
    }

    /// Whether an operation that writes what the lease guards may go ahead with the lease id
    /// it `gave` (`x-ms-lease-id`; an empty one is none).
    pub(crate) fn admits_write(&self, gave: Option<&str>, now: SystemTime) -> Result<(), Refusal> {
        let gave = gave.filter(|g| !g.is_empty());
        let current = self.at(now);
        match (current.locked(), gave) {
            (true, None) => Err(Refusal::IdMissing),
            (true, Some(g)) if !current.id().is_some_and(|id| id.eq_ignore_ascii_case(g)) => {
                Err(Refusal::IdMismatchWithOperation)
            }
            (true, Some(_)) => Ok(()),
            (false, Some(_)) => Err(Refusal::NotPresentWithOperation),
            (false, None) => Ok(()),
        }
    }

    /// Whether an operation that reads what the lease guards may go ahead: only a lease id it
    /// gave is checked.
    pub(crate) fn admits_read(&self, gave: Option<&str>, now: SystemTime) -> Result<(), Refusal> {
        match gave.filter(|g| !g.is_empty()) {
            None => Ok(()),
            Some(_) => self.admits_write(gave, now),
        }
    }

    /// The lease after a write it admitted: one that expired or was broken is gone.
    pub(crate) fn after_write(&self, now: SystemTime) -> Self {
        match self.at(now) {
            Self::Expired { .. } | Self::Broken { .. } => Self::Available,
            other => other,
        }
    }
}

/// The Lease request's action, from its headers (`header` looks one up by its lower-case name),
/// or what is missing or wrong: `(status, code, header name)`.
pub(crate) fn action<'h>(
    header: impl Fn(&str) -> Option<&'h str>,
) -> Result<Action, (u16, &'static str, &'static str)> {
    let required = |name: &'static str| header(name).ok_or((400, "MissingRequiredHeader", name));
    let number = |name: &'static str, text: &str| {
        text.trim()
            .parse::<i64>()
            .map_err(|_| (400, "InvalidHeaderValue", name))
    };
    let kind = required("x-ms-lease-action")?;
    Ok(match kind.to_ascii_lowercase().as_str() {
        "acquire" => Action::Acquire {
            duration: number("x-ms-lease-duration", required("x-ms-lease-duration")?)?,
            proposed: header("x-ms-proposed-lease-id").map(str::to_string),
        },
        "renew" => Action::Renew {
            id: required("x-ms-lease-id")?.to_string(),
        },
        "change" => Action::Change {
            id: required("x-ms-lease-id")?.to_string(),
            proposed: required("x-ms-proposed-lease-id")?.to_string(),
        },
        "release" => Action::Release {
            id: required("x-ms-lease-id")?.to_string(),
        },
        "break" => Action::Break {
            period: header("x-ms-lease-break-period")
                .map(|p| number("x-ms-lease-break-period", p))
                .transpose()?,
        },
        _ => return Err((400, "InvalidHeaderValue", "x-ms-lease-action")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    fn acquire(duration: i64, proposed: Option<&str>) -> Action {
        Action::Acquire {
            duration,
            proposed: proposed.map(str::to_string),
        }
    }

    fn leased(lease: &Lease, action: &Action, now: SystemTime) -> Lease {
        lease.apply(action, now, "fresh".into()).unwrap().0
    }

    #[test]
    fn a_fixed_lease_expires_and_its_id_may_renew_it() {
        let lease = leased(&Lease::Available, &acquire(15, Some("a")), t(0));
        assert_eq!(lease.at(t(14)).state(), "leased");
        assert_eq!(lease.at(t(15)).state(), "expired");
        assert_eq!(lease.at(t(15)).status(), "unlocked");
        let renewed = leased(&lease, &Action::Renew { id: "a".into() }, t(20));
        assert_eq!(renewed.at(t(34)).state(), "leased");
        assert_eq!(renewed.at(t(35)).state(), "expired");
    }

    #[test]
    fn only_its_own_id_acquires_a_held_lease_again() {
        let lease = leased(&Lease::Available, &acquire(-1, Some("a")), t(0));
        assert_eq!(
            lease.apply(&acquire(-1, None), t(1), "b".into()),
            Err(Refusal::AlreadyPresent)
        );
        assert_eq!(
            lease.apply(&acquire(-1, Some("b")), t(1), "c".into()),
            Err(Refusal::AlreadyPresent)
        );
        assert!(
            lease
                .apply(&acquire(30, Some("a")), t(1), "c".into())
                .is_ok()
        );
        assert_eq!(
            Lease::Available.apply(&acquire(14, None), t(0), "x".into()),
            Err(Refusal::InvalidDuration)
        );
        assert_eq!(
            Lease::Available.apply(&acquire(61, None), t(0), "x".into()),
            Err(Refusal::InvalidDuration)
        );
    }

    #[test]
    fn breaking_holds_until_the_earlier_of_its_end_and_the_period() {
        let fixed = leased(&Lease::Available, &acquire(20, Some("a")), t(0));
        let (breaking, granted) = fixed
            .apply(&Action::Break { period: Some(60) }, t(5), String::new())
            .unwrap();
        assert_eq!(granted, Granted::BreaksIn(15));
        assert!(breaking.locked());
        assert_eq!(breaking.at(t(20)).state(), "broken");
        assert_eq!(
            breaking.apply(&acquire(-1, Some("a")), t(6), String::new()),
            Err(Refusal::BreakingCannotBeAcquired)
        );
        assert_eq!(
            breaking.apply(&Action::Renew { id: "a".into() }, t(6), String::new()),
            Err(Refusal::BrokenCannotBeRenewed)
        );
        let infinite = leased(&Lease::Available, &acquire(-1, Some("a")), t(0));
        let (broken, granted) = infinite
            .apply(&Action::Break { period: None }, t(1), String::new())
            .unwrap();
        assert_eq!((broken.state(), granted), ("broken", Granted::BreaksIn(0)));
        assert!(leased(&broken, &acquire(-1, Some("b")), t(2)).locked());
    }

    #[test]
    fn writes_need_the_id_of_a_held_lease_and_reads_are_checked_only_when_they_give_one() {
        let lease = leased(&Lease::Available, &acquire(-1, Some("AbC")), t(0));
        assert_eq!(lease.admits_write(None, t(1)), Err(Refusal::IdMissing));
        assert_eq!(
            lease.admits_write(Some("x"), t(1)),
            Err(Refusal::IdMismatchWithOperation)
        );
        assert_eq!(lease.admits_write(Some("abc"), t(1)), Ok(()));
        assert_eq!(lease.admits_read(None, t(1)), Ok(()));
        assert_eq!(
            Lease::Available.admits_read(Some("abc"), t(1)),
            Err(Refusal::NotPresentWithOperation)
        );
        let expired = leased(&Lease::Available, &acquire(15, Some("a")), t(0));
        assert_eq!(expired.admits_write(None, t(16)), Ok(()));
        assert_eq!(expired.after_write(t(16)), Lease::Available);
    }

    #[test]
    fn the_action_comes_from_the_headers_or_says_what_is_missing() {
        let headers = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
        };
        assert_eq!(
            action(headers(&[("x-ms-lease-action", "acquire")])),
            Err((400, "MissingRequiredHeader", "x-ms-lease-duration"))
        );
        assert_eq!(
            action(headers(&[("x-ms-lease-action", "steal")])),
            Err((400, "InvalidHeaderValue", "x-ms-lease-action"))
        );
        assert_eq!(
            action(headers(&[
                ("x-ms-lease-action", "break"),
                ("x-ms-lease-break-period", "5")
            ])),
            Ok(Action::Break { period: Some(5) })
        );
    }
}
