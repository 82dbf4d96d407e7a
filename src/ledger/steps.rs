//! Where a case stands on its escalation ladder: each step (the notice,
//! then each escalation) is due, overdue, done or waived.
//!
//! A step dated `D` is `due` on and before `D` and `overdue` after it. It
//! is `done` once someone acknowledged the case on or after the day the
//! step was reached: the notice by any acknowledgement of the current open
//! period, an escalation step by one dated on or after the step's date (the
//! person it escalates to has then been told). A waived finding owes
//! nothing while its waiver lasts: its steps are `waived`, never overdue.

use serde::{Deserialize, Serialize};

use crate::date::Date;
use crate::engine::Route;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    Due,
    Overdue,
    Done,
    Waived,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Due => "due",
            StepStatus::Overdue => "overdue",
            StepStatus::Done => "done",
            StepStatus::Waived => "waived",
        }
    }

    /// `due 2026-11-03`, `overdue since 2026-11-03`, `done`, `waived`.
    pub fn describe(self, on: Date) -> String {
        match self {
            StepStatus::Due => format!("due {on}"),
            StepStatus::Overdue => format!("overdue since {on}"),
            StepStatus::Done => "done".into(),
            StepStatus::Waived => "waived".into(),
        }
    }
}

/// A case's ladder, dated from the start of its open period, as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ladder {
    pub queue: String,
    pub owner: Option<String>,
    pub notify_by: Option<String>,
    pub escalate: Vec<Step>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub to: String,
    pub on: String,
}

impl Ladder {
    pub fn of(route: &Route) -> Ladder {
        Ladder {
            queue: route.queue.clone(),
            owner: route.owner.clone(),
            notify_by: route.notify_by.map(|d| d.to_string()),
            escalate: route
                .escalate
                .iter()
                .map(|e| Step {
                    to: e.to.clone(),
                    on: e.on.to_string(),
                })
                .collect(),
        }
    }

    /// Each step's name (`notice`, or whom it escalates to), date and status.
    pub fn statuses(
        &self,
        acked: Option<Date>,
        waived: bool,
        as_of: Date,
    ) -> Vec<(String, Date, StepStatus)> {
        let mut out = Vec::new();
        if let Some(d) = self.notify_by.as_deref().and_then(Date::parse) {
            out.push((
                "notice".to_string(),
                d,
                status(d, acked.is_some(), waived, as_of),
            ));
        }
        for s in &self.escalate {
            if let Some(d) = Date::parse(&s.on) {
                let done = acked.is_some_and(|a| a >= d);
                out.push((s.to.clone(), d, status(d, done, waived, as_of)));
            }
        }
        out
    }
}

fn status(on: Date, done: bool, waived: bool, as_of: Date) -> StepStatus {
    if done {
        StepStatus::Done
    } else if waived {
        StepStatus::Waived
    } else if as_of > on {
        StepStatus::Overdue
    } else {
        StepStatus::Due
    }
}

/// Marks a finding's route steps with their status.
pub fn mark(route: &mut Route, acked: Option<Date>, waived: bool, as_of: Date) {
    if let Some(d) = route.notify_by {
        route.notify_status = Some(status(d, acked.is_some(), waived, as_of));
    }
    for e in &mut route.escalate {
        let done = acked.is_some_and(|a| a >= e.on);
        e.status = Some(status(e.on, done, waived, as_of));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    #[test]
    fn a_step_is_overdue_the_day_after_its_date() {
        assert_eq!(
            status(d("2026-11-03"), false, false, d("2026-11-03")),
            StepStatus::Due
        );
        assert_eq!(
            status(d("2026-11-03"), false, false, d("2026-11-04")),
            StepStatus::Overdue
        );
        assert_eq!(
            status(d("2026-11-03"), true, false, d("2026-11-04")),
            StepStatus::Done
        );
        assert_eq!(
            status(d("2026-11-03"), false, true, d("2026-11-04")),
            StepStatus::Waived
        );
    }

    #[test]
    fn an_acknowledgement_covers_the_steps_reached_by_its_date() {
        let ladder = Ladder {
            queue: "sam".into(),
            owner: None,
            notify_by: Some("2026-11-03".into()),
            escalate: vec![
                Step {
                    to: "procurement".into(),
                    on: "2026-11-04".into(),
                },
                Step {
                    to: "cio".into(),
                    on: "2026-11-15".into(),
                },
            ],
        };
        let got: Vec<StepStatus> = ladder
            .statuses(Some(d("2026-11-05")), false, d("2026-11-20"))
            .into_iter()
            .map(|s| s.2)
            .collect();
        assert_eq!(
            got,
            [StepStatus::Done, StepStatus::Done, StepStatus::Overdue]
        );
    }
}
