//! Software recognition: which licensable product a raw inventory entry is.
//!
//! Discovery tools report what a machine's uninstall list says ("Microsoft
//! SQL Server 2019 (64-bit)", "Adobe Acrobat DC (64-bit)"). The recognition
//! file (`policies/recognition.yaml`) lists the products a playbook knows,
//! with the metadata a snapshot needs, and rules of publisher, name and
//! version patterns that name the product of an entry, or say it is noise
//! (`ignore: true`). The first rule that matches wins.
//!
//! The rules are compiled once into pattern sets: publisher patterns first
//! (each entry is only tried against the rules of the publishers it
//! matches), then one name set per publisher pattern, so an entry costs a
//! few set lookups however many rules there are. It must never run a rule's
//! pattern against an entry one rule at a time.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher, GlobSet, GlobSetBuilder};
use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

use crate::diag::{Diagnostic, Diagnostics};
use crate::inventory::model::RiskTier;
use crate::yaml::{self, Fields, Node, Pos, Sink, Value};

/// Larger recognition files are refused before they are read.
const MAX_RECOGNITION_BYTES: u64 = 16 << 20;
/// The longest pattern a rule may have.
const MAX_PATTERN: usize = 1024;
/// Compiled size limit of one regex, and of each set (bytes).
const REGEX_SIZE_LIMIT: usize = 10 << 20;
const SET_SIZE_LIMIT: usize = 256 << 20;

/// A product the recognition file describes, as the snapshot lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductInfo {
    pub id: String,
    pub name: String,
    pub publisher: String,
    pub risk_tier: RiskTier,
    /// The line of the recognition file that describes it.
    pub line: u32,
}

/// What the rules make of one entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The entry is `product` (an index into [`Recognition::products`]);
    /// `version` is what the rule's `version` capture took, if it has one.
    Product {
        product: usize,
        version: Option<String>,
        rule: usize,
    },
    /// A rule with `ignore: true` matched.
    Ignored { rule: usize },
    /// No rule matched.
    Unrecognised,
}

/// One pattern of a rule, as written.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Pattern {
    /// Matches the whole text, case-insensitively; `*`, `?`, `[...]`, `{a,b}`.
    Glob(String),
    /// `/.../`: searched for in the text, case-insensitively.
    Regex(String),
}

impl Pattern {
    fn parse(text: &str) -> Pattern {
        match text
            .strip_prefix('/')
            .and_then(|t| t.strip_suffix('/'))
            .filter(|_| text.len() >= 2)
        {
            Some(re) => Pattern::Regex(re.to_string()),
            None => Pattern::Glob(text.to_string()),
        }
    }
}

/// One pattern compiled on its own, for checks after the sets.
#[derive(Clone, Debug)]
enum One {
    Glob(GlobMatcher),
    Regex(Regex),
}

impl One {
    fn is_match(&self, text: &str) -> bool {
        match self {
            One::Glob(g) => g.is_match(text),
            One::Regex(r) => r.is_match(text),
        }
    }
}

/// A rule, validated.
#[derive(Clone, Debug)]
struct Rule {
    publisher: Option<usize>,
    name: Option<One>,
    version: Option<One>,
    /// The product named, unless `editions` picks one or the rule ignores.
    product: Option<usize>,
    /// Captured edition (lowercase) to product.
    editions: Vec<(String, usize)>,
    ignore: bool,
    /// Whether the name pattern has a `version` or `edition` capture.
    captures: bool,
    line: u32,
}

/// Patterns tested together; `ids[i]` is what the set's pattern `i` stands for.
#[derive(Debug)]
struct PatternSet {
    globs: GlobSet,
    glob_ids: Vec<usize>,
    regexes: RegexSet,
    regex_ids: Vec<usize>,
}

impl PatternSet {
    fn build(patterns: &[(&Pattern, usize)]) -> Result<PatternSet, String> {
        let mut globs = GlobSetBuilder::new();
        let mut glob_ids = Vec::new();
        let mut regexes = Vec::new();
        let mut regex_ids = Vec::new();
        for (p, id) in patterns {
            match p {
                Pattern::Glob(g) => {
                    globs.add(glob(g)?);
                    glob_ids.push(*id);
                }
                Pattern::Regex(r) => {
                    regexes.push(r.as_str());
                    regex_ids.push(*id);
                }
            }
        }
        Ok(PatternSet {
            globs: globs.build().map_err(|e| e.to_string())?,
            glob_ids,
            regexes: RegexSetBuilder::new(regexes)
                .case_insensitive(true)
                .size_limit(SET_SIZE_LIMIT)
                .build()
                .map_err(|e| e.to_string())?,
            regex_ids,
        })
    }

    /// The ids of every pattern that matches `text`, pushed onto `out`.
    fn matches(&self, text: &str, out: &mut Vec<usize>) {
        if !self.glob_ids.is_empty() {
            for i in self.globs.matches(text) {
                out.push(self.glob_ids[i]);
            }
        }
        if !self.regex_ids.is_empty() {
            for i in self.regexes.matches(text).iter() {
                out.push(self.regex_ids[i]);
            }
        }
    }
}

fn glob(text: &str) -> Result<globset::Glob, String> {
    // The limits waiver globs have: the glob compiler is slow far past them.
    crate::waivers::check_glob(text)?;
    GlobBuilder::new(text)
        .case_insensitive(true)
        .literal_separator(false)
        .backslash_escape(true)
        .build()
        .map_err(|e| e.kind().to_string())
}

fn regex(text: &str) -> Result<Regex, String> {
    RegexBuilder::new(text)
        .case_insensitive(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| match e {
            regex::Error::Syntax(s) => s.lines().last().unwrap_or("invalid").trim().to_string(),
            other => other.to_string(),
        })
}

/// The rules of one publisher pattern (or of none), by name.
#[derive(Debug)]
struct Group {
    /// Rules with no name pattern: they match any name.
    any_name: Vec<usize>,
    names: PatternSet,
}

/// A recognition file, validated and compiled.
#[derive(Debug)]
pub struct Recognition {
    pub file: PathBuf,
    pub products: Vec<ProductInfo>,
    rules: Vec<Rule>,
    publishers: PatternSet,
    /// Group 0: rules without a publisher pattern; group `k + 1`: rules of
    /// publisher pattern `k`.
    groups: Vec<Group>,
}

const TOP: &[&str] = &["products", "rules"];
const PRODUCT_KEYS: &[&str] = &["id", "name", "publisher", "risk_tier"];
const RULE_KEYS: &[&str] = &[
    "publisher",
    "name",
    "version",
    "product",
    "editions",
    "ignore",
];

/// A rule as read, before its patterns are compiled into sets.
struct RawRule {
    publisher: Option<(Pattern, Pos)>,
    name: Option<(Pattern, Pos)>,
    rule: Rule,
}

impl Recognition {
    /// Reads and compiles a recognition file; every problem is reported
    /// with its line.
    pub fn load(path: &Path) -> Result<Recognition, Diagnostics> {
        let text =
            yaml::read_text(path, MAX_RECOGNITION_BYTES).map_err(|d| Diagnostics(vec![d]))?;
        Self::parse(path, &text)
    }

    /// [`Recognition::load`] from text already read.
    pub fn parse(path: &Path, text: &str) -> Result<Recognition, Diagnostics> {
        let fail = |d: Diagnostic| Diagnostics(vec![d.with_source(text)]);
        let root = match yaml::parse_document(path, text) {
            Ok(Some(root)) => root,
            Ok(None) => {
                return Err(fail(Diagnostic::error(
                    path,
                    1,
                    0,
                    "empty recognition file: expected `products:` and `rules:`",
                )))
            }
            Err(d) => return Err(fail(d)),
        };
        let mut sink = Sink::new(path);
        let found = read(path, &root, &mut sink);
        let mut diags = sink.diags;
        crate::diag::attach_sources(&mut diags, text);
        match found {
            Some(r) if diags.is_empty() => Ok(r),
            _ => Err(Diagnostics(diags)),
        }
    }

    /// The index of the product with this id.
    pub fn product(&self, id: &str) -> Option<usize> {
        self.products.iter().position(|p| p.id == id)
    }

    /// The line of the recognition file where rule `rule` is written.
    pub fn rule_line(&self, rule: usize) -> u32 {
        self.rules[rule].line
    }

    /// How many rules there are.
    pub fn rules(&self) -> usize {
        self.rules.len()
    }

    /// What the first matching rule makes of an entry. Missing fields are
    /// matched as empty text. Spaces are trimmed and runs of them read as
    /// one, as [`normalize`] does.
    pub fn recognize(&self, publisher: &str, name: &str, version: &str) -> Outcome {
        let mut pubs = Vec::new();
        self.publishers.matches(publisher, &mut pubs);
        let mut candidates = Vec::new();
        for g in std::iter::once(0).chain(pubs.iter().map(|p| p + 1)) {
            let group = &self.groups[g];
            candidates.extend_from_slice(&group.any_name);
            group.names.matches(name, &mut candidates);
        }
        candidates.sort_unstable();
        candidates.dedup();
        for i in candidates {
            let rule = &self.rules[i];
            if let Some(v) = &rule.version {
                if !v.is_match(version) {
                    continue;
                }
            }
            if rule.ignore {
                return Outcome::Ignored { rule: i };
            }
            let (mut product, mut captured) = (rule.product, None);
            if rule.captures {
                if let Some(One::Regex(re)) = &rule.name {
                    if let Some(caps) = re.captures(name) {
                        captured = caps
                            .name("version")
                            .map(|m| m.as_str().trim().to_string())
                            .filter(|v| !v.is_empty());
                        if let Some(ed) = caps.name("edition") {
                            let ed = ed.as_str().trim().to_lowercase();
                            if let Some((_, p)) = rule.editions.iter().find(|(e, _)| *e == ed) {
                                product = Some(*p);
                            }
                        }
                    }
                }
            }
            // An edition the rule does not map, and no `product` to fall
            // back on: the next rule may know it.
            let Some(product) = product else { continue };
            return Outcome::Product {
                product,
                version: captured,
                rule: i,
            };
        }
        Outcome::Unrecognised
    }
}

/// Trims `text` and reads every run of whitespace in it as one space, as
/// exports pad names inconsistently ("Adobe  Acrobat DC ").
pub fn normalize(text: &str) -> std::borrow::Cow<'_, str> {
    let t = text.trim();
    let clean = !t
        .as_bytes()
        .windows(2)
        .any(|w| w[0].is_ascii_whitespace() && w[1].is_ascii_whitespace())
        && !t.bytes().any(|b| b.is_ascii_whitespace() && b != b' ');
    if clean {
        return std::borrow::Cow::Borrowed(t);
    }
    std::borrow::Cow::Owned(t.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn read(path: &Path, root: &Node, sink: &mut Sink) -> Option<Recognition> {
    let f = Fields::of(root, "the recognition file", TOP, sink)?;
    let mut products: Vec<ProductInfo> = Vec::new();
    if let Some(list) = f.get("products") {
        for item in seq(list, "products", sink) {
            let Some(p) = Fields::of(item, "product", PRODUCT_KEYS, sink) else {
                continue;
            };
            let id = p.req_str("id", sink);
            let name = p.req_str("name", sink);
            let publisher = p.req_str("publisher", sink);
            let tier = p
                .choice("risk_tier", RiskTier::NAMES, sink)
                .and_then(RiskTier::parse);
            if let (Some(id), Some(name), Some(publisher)) = (id, name, publisher) {
                if let Some(first) = products.iter().find(|q| q.id == id) {
                    sink.error(
                        item.pos,
                        format!(
                            "product `{id}` is listed twice (first at line {})",
                            first.line
                        ),
                    );
                    continue;
                }
                products.push(ProductInfo {
                    id: id.to_string(),
                    name: name.to_string(),
                    publisher: publisher.to_string(),
                    risk_tier: tier.unwrap_or(RiskTier::Medium),
                    line: item.pos.line,
                });
            }
        }
    }
    let ids: Vec<String> = products.iter().map(|p| p.id.clone()).collect();
    let product_ref = |id: &str, pos: Pos, sink: &mut Sink| -> Option<usize> {
        let found = ids.iter().position(|p| p == id);
        if found.is_none() {
            let hint = crate::diag::nearest(id, &ids)
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default();
            sink.error(
                pos,
                format!("product `{id}` is not listed under `products:`{hint}"),
            );
        }
        found
    };
    let mut raw: Vec<RawRule> = Vec::new();
    let list = f.require("rules", sink)?;
    for item in seq(list, "rules", sink) {
        let Some(r) = Fields::of(item, "rule", RULE_KEYS, sink) else {
            continue;
        };
        let pattern = |key: &str, sink: &mut Sink| -> Option<(Pattern, Pos)> {
            let node = r.get(key)?;
            let text = r.str(key, sink)?;
            if text.len() > MAX_PATTERN {
                sink.error(
                    node.pos,
                    format!("pattern `{key}` is longer than {MAX_PATTERN} characters"),
                );
                return None;
            }
            Some((Pattern::parse(text), node.pos))
        };
        let publisher = pattern("publisher", sink);
        let name = pattern("name", sink);
        let version = pattern("version", sink);
        let ignore = r.bool("ignore", sink).unwrap_or(false);
        let product = r
            .str("product", sink)
            .and_then(|p| product_ref(p, r.get("product").map_or(item.pos, |n| n.pos), sink));
        let mut editions = Vec::new();
        if let Some(node) = r.get("editions") {
            match &node.value {
                Value::Map(pairs) if !pairs.is_empty() => {
                    for (k, v) in pairs {
                        match (k.as_str(), v.as_str()) {
                            (Some(key), Some(id)) => {
                                if let Some(p) = product_ref(id, v.pos, sink) {
                                    editions.push((key.trim().to_lowercase(), p));
                                }
                            }
                            _ => sink.error(
                                k.pos,
                                "each of `editions` maps an edition's name to a product id",
                            ),
                        }
                    }
                }
                _ => sink.error(
                    node.pos,
                    format!(
                        "field `editions` must be a mapping of edition to product id, found {}",
                        node.describe()
                    ),
                ),
            }
        }
        let given = |k: &str| r.get(k).is_some();
        if publisher.is_none() && name.is_none() && !given("publisher") && !given("name") {
            sink.error(
                item.pos,
                "a rule needs a `publisher` or `name` pattern (or both)",
            );
        }
        if ignore && (given("product") || given("editions")) {
            sink.error(
                item.pos,
                "a rule with `ignore: true` names no product or editions",
            );
        } else if !ignore && !given("product") && !given("editions") {
            sink.error(
                item.pos,
                "a rule needs `product:` (or `editions:`), or `ignore: true`",
            );
        }
        let mut compiled_name = None;
        let mut captures = false;
        if let Some((p, pos)) = &name {
            match compile_one(p) {
                Ok(one) => {
                    if let One::Regex(re) = &one {
                        let names: Vec<&str> = re.capture_names().flatten().collect();
                        if let Some(bad) =
                            names.iter().find(|n| !matches!(**n, "version" | "edition"))
                        {
                            sink.error(
                                *pos,
                                format!("capture `{bad}`: a name pattern captures only `version` and `edition`"),
                            );
                        }
                        captures = !names.is_empty();
                        if !editions.is_empty() && !names.contains(&"edition") {
                            sink.error(
                                *pos,
                                "`editions` needs a name regex with an `(?P<edition>...)` capture",
                            );
                        }
                    } else if !editions.is_empty() {
                        sink.error(
                            *pos,
                            "`editions` needs a name regex with an `(?P<edition>...)` capture",
                        );
                    }
                    compiled_name = Some(one);
                }
                Err(e) => sink.error(*pos, format!("bad pattern `name`: {e}")),
            }
        } else if !editions.is_empty() {
            sink.error(
                item.pos,
                "`editions` needs a name regex with an `(?P<edition>...)` capture",
            );
        }
        if let Some((p, pos)) = &publisher {
            if let Err(e) = compile_one(p) {
                sink.error(*pos, format!("bad pattern `publisher`: {e}"));
            }
        }
        let version = version.and_then(|(p, pos)| match compile_one(&p) {
            Ok(one) => Some(one),
            Err(e) => {
                sink.error(pos, format!("bad pattern `version`: {e}"));
                None
            }
        });
        raw.push(RawRule {
            publisher,
            name,
            rule: Rule {
                publisher: None,
                name: compiled_name,
                version,
                product,
                editions,
                ignore,
                captures,
                line: item.pos.line,
            },
        });
    }
    if !sink.diags.is_empty() {
        return None;
    }
    // Publisher patterns, each once.
    let mut pub_patterns: Vec<Pattern> = Vec::new();
    let mut pub_index: HashMap<Pattern, usize> = HashMap::new();
    for r in &mut raw {
        if let Some((p, _)) = &r.publisher {
            let next = pub_patterns.len();
            let k = *pub_index.entry(p.clone()).or_insert_with(|| {
                pub_patterns.push(p.clone());
                next
            });
            r.rule.publisher = Some(k);
        }
    }
    let set_error = |what: &str, e: String, sink: &mut Sink| {
        sink.error(
            root.pos,
            format!("the {what} patterns do not compile together: {e}"),
        );
    };
    let with_ids: Vec<(&Pattern, usize)> = pub_patterns.iter().zip(0..).collect();
    let publishers = match PatternSet::build(&with_ids) {
        Ok(s) => s,
        Err(e) => {
            set_error("publisher", e, sink);
            return None;
        }
    };
    let mut groups = Vec::new();
    for g in 0..=pub_patterns.len() {
        let in_group = |r: &RawRule| match r.rule.publisher {
            None => g == 0,
            Some(k) => g == k + 1,
        };
        let any_name: Vec<usize> = raw
            .iter()
            .enumerate()
            .filter(|(_, r)| in_group(r) && r.name.is_none())
            .map(|(i, _)| i)
            .collect();
        let named: Vec<(&Pattern, usize)> = raw
            .iter()
            .enumerate()
            .filter(|(_, r)| in_group(r))
            .filter_map(|(i, r)| r.name.as_ref().map(|(p, _)| (p, i)))
            .collect();
        match PatternSet::build(&named) {
            Ok(names) => groups.push(Group { any_name, names }),
            Err(e) => {
                set_error("name", e, sink);
                return None;
            }
        }
    }
    Some(Recognition {
        file: path.to_path_buf(),
        products,
        rules: raw.into_iter().map(|r| r.rule).collect(),
        publishers,
        groups,
    })
}

fn compile_one(p: &Pattern) -> Result<One, String> {
    match p {
        Pattern::Glob(g) => Ok(One::Glob(glob(g)?.compile_matcher())),
        Pattern::Regex(r) => regex(r).map(One::Regex),
    }
}

fn seq<'n, 'a>(node: &'n Node<'a>, what: &str, sink: &mut Sink) -> &'n [Node<'a>] {
    match &node.value {
        Value::Seq(items) => items,
        _ if node.is_null() => &[],
        _ => {
            sink.error(
                node.pos,
                format!("`{what}` must be a list, found {}", node.describe()),
            );
            &[]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Recognition, Diagnostics> {
        Recognition::parse(Path::new("r.yaml"), text)
    }

    const BASE: &str = "products:\n  - { id: a, name: A, publisher: P }\n  - { id: b, name: B, publisher: P }\nrules:\n";

    #[test]
    fn first_match_wins_across_publisher_groups() {
        let r = load(&format!(
            "{BASE}  - {{ name: 'A*', product: a }}\n  - {{ publisher: 'P*', name: 'A b*', product: b }}\n"
        ))
        .unwrap();
        assert!(matches!(
            r.recognize("Pub", "a b c", ""),
            Outcome::Product { product: 0, .. }
        ));
        assert_eq!(r.recognize("Pub", "x", ""), Outcome::Unrecognised);
    }

    #[test]
    fn editions_and_version_captures() {
        let r = load(&format!(
            "{BASE}  - {{ name: '/^thing (?P<version>\\d+) (?P<edition>\\w+)/', editions: {{ Pro: b }} }}\n"
        ))
        .unwrap();
        assert_eq!(
            r.recognize("", "Thing 2019 PRO", "1.0"),
            Outcome::Product {
                product: 1,
                version: Some("2019".into()),
                rule: 0
            }
        );
        assert_eq!(
            r.recognize("", "Thing 2019 Lite", ""),
            Outcome::Unrecognised
        );
    }

    #[test]
    fn bad_rules_are_reported_with_their_line() {
        let e = load(&format!(
            "{BASE}  - {{ name: '/(/', product: a }}\n  - {{ name: x, product: c }}\n  - {{ name: x }}\n  - {{ product: a, colour: red }}\n"
        ))
        .unwrap_err();
        let lines: Vec<u32> = e.0.iter().map(|d| d.line).collect();
        assert_eq!(lines, vec![5, 6, 7, 8, 8], "{:?}", e.0);
    }

    #[test]
    fn normalize_collapses_spaces() {
        assert_eq!(normalize("  Adobe  Acrobat\tDC "), "Adobe Acrobat DC");
        assert!(matches!(
            normalize("ok name"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
