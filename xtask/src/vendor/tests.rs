use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_yaml::Value;

use super::changelog::changelog;
use super::*;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vendor")
}

fn entry(operations: &[&str]) -> ApiEntry {
    ApiEntry {
        name: "v9".into(),
        spec: "v9.yaml".into(),
        module: "v9".into(),
        default: true,
        operation_suffix: String::new(),
        base_path: None,
        operations: operations.iter().map(|s| (*s).to_owned()).collect(),
        aliases: Default::default(),
    }
}

const ALLOWLIST: &[&str] = &["importWidgets", "getJobStatus"];

fn vendor(from: &str, operations: &[&str]) -> Result<String> {
    vendor_document(&[fixtures().join(from)], &entry(operations)).map(|v| v.text)
}

/// The document without its comment header (which names the source file).
fn body(text: &str) -> String {
    text.lines()
        .skip_while(|l| l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn parse(text: &str) -> Value {
    serde_yaml::from_str(text).expect("vendored output is YAML")
}

fn keys(v: &Value) -> Vec<String> {
    v.as_mapping()
        .map(|m| {
            m.keys()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn all_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Mapping(m) => {
            for (k, v) in m {
                match (k.as_str(), v.as_str()) {
                    (Some("$ref"), Some(r)) => out.push(r.to_owned()),
                    _ => all_refs(v, out),
                }
            }
        }
        Value::Sequence(s) => s.iter().for_each(|v| all_refs(v, out)),
        _ => {}
    }
}

#[test]
fn bundle_keeps_exactly_the_allowlisted_closure() {
    let text = vendor("bundle.yaml", ALLOWLIST).expect("vendors");
    let doc = parse(&text);

    assert_eq!(
        keys(&doc),
        [
            "openapi",
            "info",
            "servers",
            "paths",
            "components",
            "security",
            "tags"
        ]
    );
    assert_eq!(
        keys(&doc["paths"]),
        ["/jobs/{id}/status", "/widgets/{id}/start"]
    );
    assert_eq!(keys(&doc["paths"]["/jobs/{id}/status"]), ["get"]);
    // getWidget shares the path item and is dropped; the path-level parameter stays.
    assert_eq!(
        keys(&doc["paths"]["/widgets/{id}/start"]),
        ["parameters", "post"]
    );
    let tags: Vec<&str> = doc["tags"]
        .as_sequence()
        .expect("tags")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(tags, ["Widgets", "Jobs"]);

    let components: BTreeMap<String, Vec<String>> = keys(&doc["components"])
        .into_iter()
        .map(|kind| {
            let names = keys(&doc["components"][kind.as_str()]);
            (kind, names)
        })
        .collect();
    let expected: BTreeMap<String, Vec<String>> = [
        (
            "schemas",
            &["ErrorDto", "Job", "JobState", "LocaleOrigin", "Message"][..],
        ),
        ("responses", &["400", "401"]),
        // Parameter names are camelCase.
        ("parameters", &["widgetId"]),
        ("examples", &["JobExample"]),
        ("requestBodies", &["WidgetUpload"]),
        ("headers", &["RateLimit"]),
        ("securitySchemes", &["appAuth", "userAuth"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
    .collect();
    assert_eq!(components, expected);

    // Quirks survive verbatim: a `null` enum member, an inline 401 body, an example that
    // looks like a reference, an operation extension.
    let locale_enum = doc["components"]["schemas"]["LocaleOrigin"]["enum"]
        .as_sequence()
        .expect("enum");
    assert!(locale_enum.contains(&Value::Null));
    assert!(
        doc["components"]["responses"]["401"]["content"]["application/json"]["schema"]
            ["properties"]["error"]
            .get("type")
            .is_none()
    );
    assert_eq!(
        doc["components"]["schemas"]["Job"]["properties"]["attributes"]["properties"]["note"]
            ["example"]["$ref"]
            .as_str(),
        Some("not a reference, an example value")
    );
    assert_eq!(
        doc["paths"]["/widgets/{id}/start"]["post"]["x-internal-note"].as_str(),
        Some("kept verbatim")
    );

    // Every reference is internal and resolves (the example value above aside).
    let mut refs = Vec::new();
    all_refs(&doc, &mut refs);
    for r in refs.iter().filter(|r| r.starts_with('#')) {
        let pointer = load::parse_pointer(&r[1..]).expect("pointer");
        assert!(load::lookup(&doc, &pointer).is_some(), "dangling {r}");
    }
    assert_eq!(
        refs.iter().filter(|r| !r.starts_with('#')).count(),
        1,
        "{refs:?}"
    );
}

/// `expected.yaml` is the vendored fixture; after an intended change to the output, rewrite it
/// with `BLESS=1 cargo test -p xtask vendor::tests::matches_the_golden_document` and review.
#[test]
fn matches_the_golden_document() {
    let text = vendor("bundle.yaml", ALLOWLIST).expect("vendors");
    assert!(text.starts_with("# Vendored by `cargo xtask vendor --api v9` from bundle.yaml."));
    let golden_path = fixtures().join("expected.yaml");
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&golden_path, &text).expect("write golden file");
    }
    let golden = std::fs::read_to_string(golden_path).expect("golden file");
    assert_eq!(body(&text), body(&golden));
}

#[test]
fn split_form_vendors_to_the_same_document() {
    let bundle = vendor("bundle.yaml", ALLOWLIST).expect("bundle vendors");
    let split = vendor("split/root.yaml", ALLOWLIST).expect("split vendors");
    assert_eq!(body(&split), body(&bundle));
}

#[test]
fn vendoring_is_deterministic_and_a_fixpoint() {
    let first = vendor("bundle.yaml", ALLOWLIST).expect("vendors");
    let second = vendor("bundle.yaml", ALLOWLIST).expect("vendors again");
    assert_eq!(first, second);

    // The output is itself a bundle; vendoring it again changes nothing.
    let dir = temp_dir("fixpoint");
    let path = dir.join("v9.yaml");
    std::fs::write(&path, &first).expect("write");
    let again = vendor_document(&[path], &entry(ALLOWLIST)).expect("re-vendors");
    assert_eq!(body(&again.text), body(&first));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn missing_operations_are_named() {
    let err = format!(
        "{:#}",
        vendor("bundle.yaml", &["importWidgets", "nope", "alsoMissing"]).expect_err("missing")
    );
    assert!(err.contains("nope, alsoMissing"), "{err}");

    // In split form, path items whose files are missing are mentioned.
    let err = format!(
        "{:#}",
        vendor("split/root.yaml", &["nope"]).expect_err("missing")
    );
    assert!(err.contains("not found in root.yaml: nope"), "{err}");
    assert!(err.contains("1 path item(s) could not be read"), "{err}");
    assert!(
        err.contains("/other in root.yaml (./v9/paths/other.yaml"),
        "{err}"
    );
}

#[test]
fn unresolvable_refs_are_named_with_their_location() {
    let err = format!(
        "{:#}",
        vendor("bundle.yaml", &["brokenOp"]).expect_err("broken")
    );
    assert!(
        err.contains(
            "unresolvable $ref `#/components/schemas/DoesNotExist` at bundle.yaml#/paths/~1broken/get/responses/200/content/application~1json/schema"
        ),
        "{err}"
    );

    let err = format!(
        "{:#}",
        vendor("split/root.yaml", &["brokenOp"]).expect_err("broken")
    );
    assert!(
        err.contains(
            "unresolvable $ref `../schemas/DoesNotExist.yaml` at v9/paths/broken.yaml#/get/responses/200/content/application~1json/schema"
        ),
        "{err}"
    );
    assert!(
        err.contains("v9/schemas/DoesNotExist.yaml not found"),
        "{err}"
    );

    // getWidget's schema file is missing too; importWidgets, in the same file, is fine.
    let err = format!(
        "{:#}",
        vendor("split/root.yaml", &["getWidget"]).expect_err("broken")
    );
    assert!(err.contains("../schemas/Widget.yaml"), "{err}");
}

/// Writes `files` (relative path, text) under a fresh temporary directory.
fn write_tree(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = temp_dir(name);
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    dir
}

#[test]
fn same_stem_files_with_different_content_are_an_error_naming_both() {
    let dir = write_tree(
        "collision",
        &[
            (
                "root.yaml",
                "openapi: 3.0.1\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    $ref: ./paths/a.yaml\n",
            ),
            (
                "paths/a.yaml",
                "get:\n  operationId: a\n  responses:\n    '200':\n      description: ok\n      content:\n        application/json:\n          schema: {$ref: ../one/Node.yaml}\n    '500':\n      description: err\n      content:\n        application/json:\n          schema: {$ref: ../two/Node.yaml}\n",
            ),
            (
                "one/Node.yaml",
                "type: object\nproperties:\n  children: {type: array, items: {$ref: ./Node.yaml}}\n",
            ),
            ("two/Node.yaml", "type: string\n"),
        ],
    );
    let err = format!(
        "{:#}",
        vendor_document(&[dir.join("root.yaml")], &entry(&["a"])).expect_err("clash")
    );
    assert!(
        err.contains("schemas `Node` comes from two sources with different content: one/Node.yaml# and two/Node.yaml#"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn identical_sources_with_one_name_are_vendored_once_and_recursion_terminates() {
    // Two recursive schemas in different files, identical up to their prose: one component.
    let node = |words: &str| {
        format!(
            "type: object\ndescription: {words}\nproperties:\n  children: {{type: array, items: {{$ref: ./Node.yaml}}}}\n"
        )
    };
    let one = node("A tree.");
    let two = node("The same tree, in other words.");
    let dir = write_tree(
        "identical",
        &[
            (
                "root.yaml",
                "openapi: 3.0.1\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    $ref: ./paths/a.yaml\n",
            ),
            (
                "paths/a.yaml",
                "get:\n  operationId: a\n  responses:\n    '200':\n      description: ok\n      content:\n        application/json:\n          schema: {$ref: ../one/Node.yaml}\n    '500':\n      description: err\n      content:\n        application/json:\n          schema: {$ref: ../two/Node.yaml}\n",
            ),
            ("one/Node.yaml", &one),
            ("two/Node.yaml", &two),
        ],
    );
    let vendored = vendor_document(&[dir.join("root.yaml")], &entry(&["a"])).expect("vendors");
    let doc = parse(&vendored.text);
    assert_eq!(keys(&doc["components"]["schemas"]), ["Node"]);
    assert_eq!(
        doc["components"]["schemas"]["Node"]["properties"]["children"]["items"]["$ref"].as_str(),
        Some("#/components/schemas/Node")
    );
    let responses = &doc["paths"]["/a"]["get"]["responses"];
    for code in ["200", "500"] {
        assert_eq!(
            responses[code]["content"]["application/json"]["schema"]["$ref"].as_str(),
            Some("#/components/schemas/Node"),
            "{code}"
        );
    }
    assert_eq!(vendored.warnings.len(), 1, "{:?}", vendored.warnings);
    assert!(
        vendored.warnings[0].contains("one/Node.yaml# and two/Node.yaml# are identical"),
        "{:?}",
        vendored.warnings
    );
    let _ = std::fs::remove_dir_all(dir);
}

fn multi(roots: &[&str]) -> Vec<PathBuf> {
    roots
        .iter()
        .map(|r| fixtures().join("multi").join(r).join("openapi.yaml"))
        .collect()
}

/// An operation listed by a cross-version name with its own operationId is vendored by that
/// operationId, and the document keeps the published one.
#[test]
fn an_aliased_operation_is_vendored_by_its_operation_id() {
    let mut e = entry(&["importWidgets", "jobStatus"]);
    e.aliases
        .insert("jobStatus".to_owned(), "getJobStatus".to_owned());
    let text = vendor_document(&[fixtures().join("bundle.yaml")], &e)
        .unwrap()
        .text;
    assert_eq!(text, vendor("bundle.yaml", ALLOWLIST).unwrap());
    assert!(text.contains("operationId: getJobStatus"), "{text}");
    e.aliases
        .insert("jobStatus".to_owned(), "getJobStatusV2".to_owned());
    let err = format!(
        "{:#}",
        vendor_document(&[fixtures().join("bundle.yaml")], &e).unwrap_err()
    );
    assert!(err.contains("getJobStatusV2"), "{err}");
}

fn v1_entry(operations: &[&str]) -> ApiEntry {
    ApiEntry {
        operation_suffix: "V1".into(),
        ..entry(operations)
    }
}

#[test]
fn several_roots_merge_into_one_document() {
    let vendored = vendor_document(
        &multi(&["widgets", "jobs"]),
        &v1_entry(&["listWidgets", "loadWidgets", "getJob"]),
    )
    .expect("vendors");
    let text = &vendored.text;
    assert!(
        text.starts_with(
            "# Vendored by `cargo xtask vendor --api v9` from widgets/openapi.yaml, jobs/openapi.yaml.\n"
        ),
        "{text}"
    );
    let doc = parse(text);
    assert_eq!(
        keys(&doc["paths"]),
        ["/jobs/v1/{id}", "/widgets/v1", "/widgets/v1/{id}/load"]
    );
    let ids: Vec<&str> = ["/jobs/v1/{id}", "/widgets/v1", "/widgets/v1/{id}/load"]
        .iter()
        .flat_map(|p| {
            doc["paths"][*p]
                .as_mapping()
                .expect("path item")
                .values()
                .filter_map(|op| op["operationId"].as_str())
        })
        .collect();
    assert_eq!(ids, ["getJobV1", "listWidgetsV1", "loadWidgetsV1"]);

    // Lower-case file stems become PascalCase names (word breaks from the titles);
    // parameters are camelCase; the shared files are one component each, and the two
    // `widget.yaml` copies, which differ only in prose, are one.
    assert_eq!(
        keys(&doc["components"]["schemas"]),
        [
            "ErrorDto",
            "JobStatus",
            "LoadTask",
            "LocalizedMessage",
            "Target",
            "Widget"
        ]
    );
    assert_eq!(
        keys(&doc["components"]["parameters"]),
        ["id", "limit", "offset"]
    );
    assert_eq!(keys(&doc["components"]["responses"]), ["400", "401", "429"]);
    assert_eq!(
        doc["components"]["schemas"]["JobStatus"]["properties"]["widget"]["$ref"].as_str(),
        Some("#/components/schemas/Widget")
    );
    assert_eq!(vendored.warnings.len(), 1, "{:?}", vendored.warnings);
    assert!(
        vendored.warnings[0].contains("widgets/schemas/widget.yaml# and jobs/schemas/widget.yaml#"),
        "{:?}",
        vendored.warnings
    );

    // Tags of both roots, first root first; servers and info from the first root.
    let tags: Vec<&str> = doc["tags"]
        .as_sequence()
        .expect("tags")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(tags, ["Widgets", "Jobs"]);
    assert_eq!(
        doc["info"]["title"].as_str(),
        Some("Widget Test API - Widgets")
    );
    assert_eq!(
        doc["servers"][0]["url"].as_str(),
        Some("https://{tenant}.example.test")
    );

    // Facts carry over: the quirks, enums with null, nullable, examples, defaults, security.
    let limit = &doc["components"]["parameters"]["limit"];
    assert_eq!(limit["schema"]["maximum"].as_u64(), Some(250));
    assert_eq!(limit["schema"]["default"].as_u64(), Some(250));
    let state = &doc["components"]["schemas"]["JobStatus"]["properties"]["state"];
    assert!(
        state["enum"]
            .as_sequence()
            .expect("enum")
            .contains(&Value::Null)
    );
    assert_eq!(
        doc["components"]["schemas"]["Target"]["nullable"].as_bool(),
        Some(true)
    );
    assert_eq!(
        doc["components"]["schemas"]["Widget"]["properties"]["id"]["example"].as_str(),
        Some("w-1")
    );
    let load = &doc["paths"]["/widgets/v1/{id}/load"]["post"];
    assert_eq!(
        load["security"][1]["appAuth"][0].as_str(),
        Some("widgets:manage")
    );
    // Content-less responses stay content-less.
    let get_job = &doc["paths"]["/jobs/v1/{id}"]["get"];
    assert!(get_job["responses"]["403"].get("content").is_none());
}

#[test]
fn no_prose_is_vendored() {
    let text = vendor_document(
        &multi(&["widgets", "jobs"]),
        &v1_entry(&["listWidgets", "loadWidgets", "getJob"]),
    )
    .expect("vendors")
    .text;
    let doc = parse(&text);
    // Every description left is a neutral response description; no summaries at all.
    let mut found = Vec::new();
    collect_key(&doc, "description", &mut found);
    for d in &found {
        let neutral = [
            "200 OK",
            "202 Accepted",
            "400 Bad Request",
            "401 Unauthorized",
            "403 Forbidden",
            "404 Not Found",
            "429 Too Many Requests",
        ];
        assert!(
            neutral.contains(&d.as_str()),
            "description {d:?} left in\n{text}"
        );
    }
    let mut summaries = Vec::new();
    collect_key(&doc, "summary", &mut summaries);
    assert!(summaries.is_empty(), "{summaries:?}");
    for phrase in [
        "Made-up",
        "Page size",
        "What went wrong",
        "A widget",
        "other words",
        "The tenant",
    ] {
        assert!(!text.contains(phrase), "{phrase:?} copied into\n{text}");
    }
    // Properties called `description` and `summary` are facts, not prose.
    assert_eq!(
        keys(&doc["components"]["schemas"]["Widget"]["properties"]),
        ["id", "name", "created", "owner", "description", "summary"]
    );
    assert_eq!(
        doc["components"]["schemas"]["Widget"]["properties"]["description"],
        parse("type: string")
    );
    let bundle = vendor("bundle.yaml", ALLOWLIST).expect("vendors");
    assert!(!bundle.contains("A made-up API"), "{bundle}");
}

fn collect_key(v: &Value, key: &str, out: &mut Vec<String>) {
    match v {
        Value::Mapping(m) => {
            for (k, v) in m {
                if k.as_str() == Some(key)
                    && let Some(s) = v.as_str()
                {
                    out.push(s.to_owned());
                }
                collect_key(v, key, out);
            }
        }
        Value::Sequence(s) => s.iter().for_each(|v| collect_key(v, key, out)),
        _ => {}
    }
}

#[test]
fn a_name_clash_across_roots_names_both_origins() {
    let err = format!(
        "{:#}",
        vendor_document(
            &multi(&["widgets", "clash"]),
            &v1_entry(&["listWidgets", "listGadgets"]),
        )
        .expect_err("clash")
    );
    assert!(
        // Paths are walked in order: /gadgets/v1 (clash root) names `Widget` first.
        err.contains("schemas `Widget` comes from two sources with different content: clash/schemas/widget.yaml# and widgets/schemas/widget.yaml#"),
        "{err}"
    );
}

#[test]
fn several_roots_report_what_is_missing_and_duplicated() {
    let err = format!(
        "{:#}",
        vendor_document(&multi(&["widgets", "jobs"]), &v1_entry(&["getJob", "nope"]))
            .expect_err("missing")
    );
    assert!(
        err.contains("not found in widgets/openapi.yaml, jobs/openapi.yaml: nopeV1"),
        "{err}"
    );
    assert!(
        err.contains("/widgets/v1/{id}/report in widgets/openapi.yaml"),
        "{err}"
    );

    // Without the suffix the v1 operationIds are not found.
    let err = format!(
        "{:#}",
        vendor_document(&multi(&["jobs"]), &entry(&["getJob"])).expect_err("missing")
    );
    assert!(err.contains(": getJob"), "{err}");

    let err = format!(
        "{:#}",
        vendor_document(&multi(&["jobs", "jobs"]), &v1_entry(&["getJob"])).expect_err("twice")
    );
    assert!(err.contains("given twice"), "{err}");
}

#[test]
fn roots_that_disagree_on_servers_are_refused() {
    let dir = write_tree(
        "servers",
        &[
            (
                "a/openapi.yaml",
                "openapi: 3.0.1\ninfo: {title: a, version: '1'}\nservers: [{url: 'https://a.example.test'}]\npaths: {}\n",
            ),
            (
                "b/openapi.yaml",
                "openapi: 3.0.1\ninfo: {title: b, version: '1'}\nservers: [{url: 'https://b.example.test/v2'}]\npaths: {}\n",
            ),
        ],
    );
    let err = format!(
        "{:#}",
        vendor_document(
            &[dir.join("a/openapi.yaml"), dir.join("b/openapi.yaml")],
            &entry(&["x"])
        )
        .expect_err("disagree")
    );
    assert!(
        err.contains("disagree on `servers`: a/openapi.yaml and b/openapi.yaml"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A copy of the vendored fixture with: an enum value added (JobState QUEUED), a property
/// removed (Job.legacyId), a new required header (X-SailPoint-Experimental) on getJobStatus, a
/// new response code, a request media type removed and a property retyped.
fn changed(doc: &Value) -> Value {
    let mut doc = doc.clone();
    let schemas = &mut doc["components"]["schemas"];
    schemas["JobState"]["enum"]
        .as_sequence_mut()
        .expect("enum")
        .push("QUEUED".into());
    schemas["Job"]["properties"]
        .as_mapping_mut()
        .expect("properties")
        .remove("legacyId");
    schemas["Message"]["properties"]["text"]["type"] = "integer".into();
    let header: Value = serde_yaml::from_str(
        "{name: X-SailPoint-Experimental, in: header, required: true, schema: {type: string, default: true}}",
    )
    .expect("yaml");
    doc["paths"]["/jobs/{id}/status"]["get"]["parameters"]
        .as_sequence_mut()
        .expect("parameters")
        .push(header);
    doc["paths"]["/jobs/{id}/status"]["get"]["responses"]
        .as_mapping_mut()
        .expect("responses")
        .insert(
            "404".into(),
            serde_yaml::from_str("{description: gone}").expect("yaml"),
        );
    let body = &mut doc["components"]["requestBodies"]["WidgetUpload"]["content"];
    let multipart = body["multipart/form-data"].clone();
    body.as_mapping_mut()
        .expect("content")
        .insert("application/x-www-form-urlencoded".into(), multipart);
    body["multipart/form-data"]["schema"]["properties"]["mode"]["enum"]
        .as_sequence_mut()
        .expect("enum")
        .retain(|v| v.as_str() != Some("false"));
    doc
}

#[test]
fn changelog_reports_contract_changes() {
    let old = parse(&vendor("bundle.yaml", ALLOWLIST).expect("vendors"));
    let new = changed(&old);
    assert_eq!(
        changelog("v9", Some(&old), &new),
        [
            "v9 getJobStatus: parameter X-SailPoint-Experimental (header, required) added — experimental header added",
            "v9 getJobStatus: response 404 added",
            "v9 importWidgets: request body media type application/x-www-form-urlencoded added",
            "v9 importWidgets: request body multipart/form-data.mode: enum value \"false\" removed",
            "v9 schema Job: property legacyId removed",
            "v9 schema JobState: enum value QUEUED added",
            "v9 schema Message.text: type changed from string to integer",
        ]
    );
    assert_eq!(
        changelog("v9", Some(&new), &old),
        [
            "v9 getJobStatus: parameter X-SailPoint-Experimental (header) removed — experimental header removed",
            "v9 getJobStatus: response 404 removed",
            "v9 importWidgets: request body media type application/x-www-form-urlencoded removed",
            "v9 importWidgets: request body multipart/form-data.mode: enum value \"false\" added",
            "v9 schema Job: property legacyId added (integer, int32)",
            "v9 schema JobState: enum value QUEUED removed",
            "v9 schema Message.text: type changed from integer to string",
        ]
    );
    assert!(changelog("v9", Some(&old), &old).is_empty());
}

#[test]
fn changelog_compares_through_references() {
    let old = parse(&vendor("bundle.yaml", ALLOWLIST).expect("vendors"));
    // The same operation with its response schema inlined instead of referenced, but with a
    // changed property: reported against the operation.
    let mut new = old.clone();
    let mut job = new["components"]["schemas"]["Job"].clone();
    job["properties"]["id"]["format"] = "uuid".into();
    new["paths"]["/jobs/{id}/status"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] =
        job;
    new["paths"]["/jobs/{id}/status"]["get"]["parameters"][0]["in"] = "query".into();
    new["paths"]["/jobs/{id}/status"]["get"]["tags"][0] = "Queues".into();
    assert_eq!(
        changelog("v9", Some(&old), &new),
        [
            "v9 getJobStatus: tags changed from [Jobs] to [Queues]",
            "v9 getJobStatus: parameter id: location changed from path to query",
            "v9 getJobStatus: response 200 application/json.id: format uuid added",
        ]
    );
}

#[test]
fn changelog_without_a_previous_document_lists_the_operations() {
    let new = parse(&vendor("bundle.yaml", ALLOWLIST).expect("vendors"));
    let lines = changelog("v9", None, &new);
    assert_eq!(
        lines[0],
        "v9 getJobStatus: operation added (GET /jobs/{id}/status)"
    );
    assert_eq!(
        lines[1],
        "v9 importWidgets: operation added (POST /widgets/{id}/start)"
    );
    assert!(
        lines[2..].iter().all(|l| l.ends_with(": added")),
        "{lines:?}"
    );
}

/// Parses arguments as `cargo xtask` does (clap), for the tests.
fn parse_args(args: &[String]) -> Result<VendorArgs, clap::Error> {
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: VendorArgs,
    }
    <Cli as clap::Parser>::try_parse_from(
        std::iter::once("task".to_owned()).chain(args.iter().cloned()),
    )
    .map(|c| c.args)
}

#[test]
fn parses_arguments() {
    let args = |s: &[&str]| -> Vec<String> { s.iter().map(|a| (*a).to_owned()).collect() };
    let parsed = parse_args(&args(&["--from", "a.yaml", "--api=v2025", "--dry-run"])).expect("ok");
    assert_eq!(parsed.from, [PathBuf::from("a.yaml")]);
    assert_eq!(parsed.api, "v2025");
    assert!(parsed.dry_run);
    assert!(parsed.root.join("openapi").is_dir());
    let parsed = parse_args(&args(&["--api", "b", "--from", "x", "--root", "/r"])).expect("ok");
    assert_eq!((parsed.dry_run, parsed.root), (false, PathBuf::from("/r")));
    let parsed = parse_args(&args(&[
        "--api",
        "v1",
        "--from",
        "a/openapi.yaml",
        "--from=b/openapi.yaml",
    ]))
    .expect("ok");
    assert_eq!(
        parsed.from,
        [
            PathBuf::from("a/openapi.yaml"),
            PathBuf::from("b/openapi.yaml")
        ]
    );

    for bad in [
        &["--from", "x"][..],
        &["--api", "b"],
        &["--from"],
        &["--from", "x", "--api", "b", "--bogus"],
        &["--api", "b", "--from", "x", "--from"],
    ] {
        assert!(parse_args(&args(bad)).is_err(), "{bad:?}");
    }
}

#[test]
fn run_writes_only_without_dry_run() {
    let root = temp_dir("run");
    std::fs::create_dir_all(root.join("openapi")).expect("mkdir");
    std::fs::write(
        root.join("openapi/apis.yaml"),
        "apis:\n  - name: v9\n    spec: v9.yaml\n    module: v9\n    default: true\n    operations: [importWidgets, getJobStatus]\n",
    )
    .expect("config");
    let args = VendorArgs {
        from: vec![fixtures().join("split/root.yaml")],
        api: "v9".into(),
        dry_run: true,
        root: root.clone(),
    };
    run(args.clone()).expect("dry run");
    assert!(!root.join("openapi/v9.yaml").exists());

    run(VendorArgs {
        dry_run: false,
        ..args.clone()
    })
    .expect("run");
    let written = std::fs::read_to_string(root.join("openapi/v9.yaml")).expect("written");
    assert_eq!(
        body(&written),
        body(&vendor("bundle.yaml", ALLOWLIST).expect("vendors"))
    );

    let err = run(VendorArgs {
        api: "v8".into(),
        ..args
    })
    .expect_err("unknown api");
    assert!(err.to_string().contains("no API named `v8`"));
    let _ = std::fs::remove_dir_all(root);
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xtask-vendor-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn a_bundler_suffix_is_dropped_unless_both_names_are_needed() {
    let bundle = |ops: &str| {
        format!(
            "openapi: 3.0.1\ninfo: {{title: t, version: '1'}}\npaths:\n{ops}components:\n  schemas:\n    Source:\n      type: object\n      properties: {{other: {{type: string}}}}\n    Source-2:\n      type: object\n      properties: {{id: {{type: string}}}}\n"
        )
    };
    let op = |path: &str, id: &str, schema: &str| {
        format!(
            "  {path}:\n    get:\n      operationId: {id}\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema: {{$ref: '#/components/schemas/{schema}'}}\n"
        )
    };
    // Only `Source-2` is needed: it is vendored as `Source`, the name every version uses.
    let dir = write_tree(
        "suffix",
        &[(
            "one.yaml",
            &bundle(&op("/sources", "listSources", "Source-2")),
        )],
    );
    let vendored =
        vendor_document(&[dir.join("one.yaml")], &entry(&["listSources"])).expect("vendors");
    let doc = parse(&vendored.text);
    assert_eq!(keys(&doc["components"]["schemas"]), ["Source"]);
    assert_eq!(
        keys(&doc["components"]["schemas"]["Source"]["properties"]),
        ["id"]
    );
    assert!(vendored.warnings.is_empty(), "{:?}", vendored.warnings);

    // Both are needed: the second keeps its suffix, and says so.
    let ops = op("/a", "a", "Source") + &op("/b", "b", "Source-2");
    std::fs::write(dir.join("two.yaml"), bundle(&ops)).expect("write");
    let vendored = vendor_document(&[dir.join("two.yaml")], &entry(&["a", "b"])).expect("vendors");
    let doc = parse(&vendored.text);
    assert_eq!(keys(&doc["components"]["schemas"]), ["Source", "Source2"]);
    assert_eq!(
        keys(&doc["components"]["schemas"]["Source2"]["properties"]),
        ["id"]
    );
    assert_eq!(vendored.warnings.len(), 1, "{:?}", vendored.warnings);
    assert!(
        vendored.warnings[0].contains("keeps its suffix as `Source2`"),
        "{:?}",
        vendored.warnings
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// The bundle and v1 split-root directories under `shared`, if both are there.
fn published_specs(shared: &Path) -> Option<(PathBuf, PathBuf)> {
    let bundles = shared.join("bundles");
    let v1 = shared.join("v1/idn/apis");
    (bundles.is_dir() && v1.is_dir()).then_some((bundles, v1))
}

#[test]
fn missing_reference_material_is_detected() {
    let dir = temp_dir("no-shared");
    assert!(published_specs(&dir).is_none());
    std::fs::create_dir_all(dir.join("bundles")).expect("mkdir");
    assert!(published_specs(&dir).is_none());
    std::fs::create_dir_all(dir.join("v1/idn/apis")).expect("mkdir");
    assert!(published_specs(&dir).is_some());
    let _ = std::fs::remove_dir_all(dir);
}

/// The published specs in the reference material (`<workspace>/../shared`), vendored with the
/// workspace's `openapi/apis.yaml`, give exactly the committed `openapi/*.yaml`. Without the
/// reference material (it is not part of the repository) the test says so and passes.
#[test]
fn published_specs_vendor_to_the_committed_files() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace");
    let shared = workspace.join("../shared/isc-api");
    let Some((bundles, v1)) = published_specs(&shared) else {
        println!(
            "skipped: the reference specs are not at {} (nothing to compare against)",
            shared.display()
        );
        return;
    };
    let config = crate::apis_config::load_config(workspace).expect("apis.yaml");
    let cases: Vec<(&str, Vec<PathBuf>)> = vec![
        (
            "v2026",
            vec![bundles.join("deref-sailpoint-api.v2026.yaml")],
        ),
        (
            "v1",
            ["sources", "account-aggregations", "task-management"]
                .iter()
                .map(|r| v1.join(r).join("openapi.yaml"))
                .collect(),
        ),
        ("beta", vec![bundles.join("deref-sailpoint-api.beta.yaml")]),
        (
            "v2025",
            vec![bundles.join("deref-sailpoint-api.v2025.yaml")],
        ),
    ];
    for (name, from) in cases {
        let entry = config.api(name).expect("entry");
        let started = std::time::Instant::now();
        let vendored = vendor_document(&from, entry).expect("the published spec vendors");
        println!("vendored {name} in {:.2?}", started.elapsed());
        let committed =
            std::fs::read_to_string(entry.spec_path(workspace)).expect("committed spec");
        assert!(
            vendored.text == committed,
            "openapi/{} differs from what `cargo xtask vendor --api {name}` makes of {}",
            entry.spec,
            from.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        // The published prose is not in the vendored file.
        let doc = parse(&vendored.text);
        let mut summaries = Vec::new();
        collect_key(&doc, "summary", &mut summaries);
        assert!(summaries.is_empty(), "{name}: {summaries:?}");
        assert!(
            !vendored.text.contains("Identity Security Cloud platform"),
            "{name}"
        );
    }
}
