//! JUnit XML, the test report format GitLab, Jenkins and most CI read.

use std::fmt::Write;

use crate::testing::CaseResult;

/// Escapes text for XML attributes and content.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 cannot carry most control characters at all.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A suite of test cases with their failures.
pub struct Suite {
    pub name: String,
    /// (case name, classname, failure messages; empty when passed)
    pub cases: Vec<(String, String, Vec<String>)>,
}

/// Renders suites as one `<testsuites>` document.
pub fn render(suites: &[Suite]) -> String {
    let tests: usize = suites.iter().map(|s| s.cases.len()).sum();
    let failures: usize = suites
        .iter()
        .map(|s| s.cases.iter().filter(|c| !c.2.is_empty()).count())
        .sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"trueup\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\">"
    );
    for s in suites {
        let failed = s.cases.iter().filter(|c| !c.2.is_empty()).count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\" errors=\"0\" skipped=\"0\">",
            escape(&s.name),
            s.cases.len()
        );
        for (name, class, fails) in &s.cases {
            let _ = write!(
                out,
                "    <testcase name=\"{}\" classname=\"{}\"",
                escape(name),
                escape(class)
            );
            if fails.is_empty() {
                out.push_str("/>\n");
                continue;
            }
            out.push_str(">\n");
            let first = fails[0].lines().next().unwrap_or_default();
            let _ = writeln!(
                out,
                "      <failure message=\"{}\" type=\"failure\">{}</failure>",
                escape(first),
                escape(&fails.join("\n"))
            );
            out.push_str("    </testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// `trueup test -f junit`: one suite per case file.
pub fn tests(results: &[CaseResult]) -> String {
    let mut suites: Vec<Suite> = Vec::new();
    for r in results {
        let name = r.file.display().to_string();
        if suites.last().is_none_or(|s| s.name != name) {
            suites.push(Suite {
                name: name.clone(),
                cases: Vec::new(),
            });
        }
        let suite = suites.last_mut().expect("pushed above");
        suite.cases.push((
            format!("line {}: {}", r.line, r.note),
            name,
            r.failures.clone(),
        ));
    }
    render(&suites)
}
