//! Routing: who must hear of a finding, by when, and who it escalates to.
//!
//! Routers are scripts defining `route(f)`; they run in path order and the
//! first that answers (returns a map rather than `()`) wins. Its answer is
//! checked here: known keys only, durations that parse, escalation steps in
//! order and none before the notice is due. Dates count from the day the
//! finding opened.

use std::path::Path;

use rhai::{Dynamic, Map};

use crate::date::{Date, Duration};
use crate::engine::{Escalation, Route};

/// The queue of findings no router answered for.
pub const UNROUTED: &str = "unrouted";

const KEYS: &[&str] = &["queue", "owner", "notify_within", "escalate"];
const STEP_KEYS: &[&str] = &["after", "to"];

/// A router's answer, validated; dates come from [`RouteSpec::dated`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteSpec {
    pub queue: String,
    pub owner: Option<String>,
    pub notify_within: Option<Duration>,
    pub escalate: Vec<(Duration, String)>,
}

impl RouteSpec {
    /// The route of a finding opened on `opened`, as `router` answered it.
    pub fn dated(&self, opened: Date, router: Option<&Path>) -> Route {
        Route {
            queue: self.queue.clone(),
            owner: self.owner.clone(),
            notify_within: self.notify_within.map(|d| d.to_string()),
            notify_by: self.notify_within.map(|d| opened + d.days_ceil()),
            notify_status: None,
            escalate: self
                .escalate
                .iter()
                .map(|(after, to)| Escalation {
                    after: after.to_string(),
                    to: to.clone(),
                    on: opened + after.days_ceil(),
                    status: None,
                })
                .collect(),
            router: router.map(Path::to_path_buf),
        }
    }

    /// The route of a finding no router answered.
    pub fn unrouted() -> RouteSpec {
        RouteSpec {
            queue: UNROUTED.to_string(),
            owner: None,
            notify_within: None,
            escalate: Vec::new(),
        }
    }
}

fn text(v: &Dynamic, what: &str) -> Result<String, String> {
    if v.is_string() {
        Ok(v.to_string())
    } else {
        Err(format!("`{what}` must be text, found {}", v.type_name()))
    }
}

fn duration(v: &Dynamic, what: &str) -> Result<Duration, String> {
    let s = text(v, what)?;
    Duration::parse(&s)
        .ok_or_else(|| format!("`{what}` is `{s}`, not a duration like `36h`, `3d` or `2w`"))
}

/// Checks a router's answer; `Ok(None)` when it passed (returned `()`).
pub fn parse_answer(answer: &Dynamic) -> Result<Option<RouteSpec>, String> {
    if answer.is_unit() {
        return Ok(None);
    }
    let Some(map) = answer.read_lock::<Map>() else {
        return Err(format!(
            "`route` must return a map or `()`, returned {}",
            answer.type_name()
        ));
    };
    for key in map.keys() {
        if !KEYS.contains(&key.as_str()) {
            return Err(format!(
                "route has unknown key `{key}`; expected {}",
                KEYS.join(", ")
            ));
        }
    }
    let queue = text(map.get("queue").ok_or("route needs a `queue`")?, "queue")?;
    let owner = map
        .get("owner")
        .filter(|v| !v.is_unit())
        .map(|v| text(v, "owner"))
        .transpose()?;
    let notify_within = map
        .get("notify_within")
        .filter(|v| !v.is_unit())
        .map(|v| duration(v, "notify_within"))
        .transpose()?;
    let mut escalate = Vec::new();
    if let Some(steps) = map.get("escalate").filter(|v| !v.is_unit()) {
        let Some(steps) = steps.read_lock::<rhai::Array>() else {
            return Err("`escalate` must be a list of #{ after, to }".into());
        };
        for (i, step) in steps.iter().enumerate() {
            let Some(step) = step.read_lock::<Map>() else {
                return Err(format!(
                    "escalation step {} must be a map #{{ after, to }}",
                    i + 1
                ));
            };
            if let Some(key) = step.keys().find(|k| !STEP_KEYS.contains(&k.as_str())) {
                return Err(format!(
                    "escalation step {} has unknown key `{key}`; expected after, to",
                    i + 1
                ));
            }
            let after = duration(
                step.get("after").ok_or("escalation step needs `after`")?,
                "after",
            )?;
            let to = text(step.get("to").ok_or("escalation step needs `to`")?, "to")?;
            if let Some((prev, _)) = escalate.last() {
                if after <= *prev {
                    return Err(format!(
                        "escalation steps out of order: `{after}` (to `{to}`) comes after `{prev}`; list steps from the earliest"
                    ));
                }
            }
            escalate.push((after, to));
        }
    }
    // Nobody can be escalated to before the owner was due to hear of it.
    if let Some(notice) = notify_within {
        if let Some((after, to)) = escalate
            .iter()
            .find(|(after, _)| after.days_ceil() < notice.days_ceil())
        {
            return Err(format!(
                "escalation to `{to}` after `{after}` falls before the notice is due (`notify_within` is `{notice}`); escalate after the notice"
            ));
        }
    }
    Ok(Some(RouteSpec {
        queue,
        owner,
        notify_within,
        escalate,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rhai::Engine;

    fn answer(src: &str) -> Result<Option<RouteSpec>, String> {
        parse_answer(&Engine::new().eval::<Dynamic>(src).unwrap())
    }

    #[test]
    fn dates_count_from_the_opening_day() {
        let spec = answer(r#"#{ queue: "sam", notify_within: "36h", escalate: [#{ after: "3d", to: "procurement" }, #{ after: "2w", to: "cio" }] }"#)
            .unwrap()
            .unwrap();
        let route = spec.dated(Date::parse("2026-11-01").unwrap(), None);
        assert_eq!(route.notify_by.unwrap().to_string(), "2026-11-03");
        assert_eq!(route.escalate[0].on.to_string(), "2026-11-04");
        assert_eq!(route.escalate[1].on.to_string(), "2026-11-15");
    }

    #[test]
    fn rejects_malformed_answers() {
        assert!(answer(r#"#{ queu: "x" }"#)
            .unwrap_err()
            .contains("unknown key `queu`"));
        assert!(answer(r#"#{ queue: "x", notify_within: "3 days" }"#)
            .unwrap_err()
            .contains("not a duration"));
        let err = answer(
            r#"#{ queue: "x", escalate: [#{ after: "3d", to: "a" }, #{ after: "2d", to: "b" }] }"#,
        )
        .unwrap_err();
        assert!(err.contains("out of order"), "{err}");
        // Regression: a low finding was told by day 14 but escalated on day 7.
        let err = answer(
            r#"#{ queue: "x", notify_within: "2w", escalate: [#{ after: "1w", to: "a" }, #{ after: "3w", to: "b" }] }"#,
        )
        .unwrap_err();
        assert!(
            err.contains("escalation to `a` after `1w` falls before the notice is due"),
            "{err}"
        );
        // The same day as the notice is not before it; part-days round up.
        for (notice, step) in [("2w", "2w"), ("2d", "36h"), ("24h", "1d")] {
            let src = format!(
                r#"#{{ queue: "x", notify_within: "{notice}", escalate: [#{{ after: "{step}", to: "a" }}] }}"#
            );
            assert!(answer(&src).is_ok(), "{notice} then {step}");
        }
        assert!(answer("42").unwrap_err().contains("must return a map"));
        assert_eq!(answer("()").unwrap(), None);
    }
}
