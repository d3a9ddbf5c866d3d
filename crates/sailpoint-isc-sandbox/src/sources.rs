//! The tenant's sources, as `listSources` shows them.
//!
//! A source exists once it was imported into (named `Source <id>`) or added by a test with
//! [`Sandbox::add_source`](crate::Sandbox::add_source). Names need not be unique, so a client
//! that looks a source up by name can meet the ambiguity a real tenant may hold.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::collection::{Compare, Op, Params, Supported, page};
use crate::ids::rfc3339;
use crate::schema::{SchemaKind, SourceSchema, StoredSchema};

/// The filters `listSources` supports in the sandbox (a subset of ISC's).
pub(crate) const FILTERS: Supported = &[
    ("id", &[Op::Eq, Op::In]),
    ("name", &[Op::Eq, Op::In, Op::Sw, Op::Co]),
];

/// The sorters `listSources` supports in the sandbox.
pub(crate) const SORTERS: &[&str] = &["id", "name", "created", "modified"];

/// A source of the tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SourceInfo {
    /// The source id (the `{id}` of `importAccounts`).
    pub id: String,
    /// Its display name.
    pub name: String,
    /// When it was created.
    pub created: DateTime<Utc>,
}

impl SourceInfo {
    /// The `Source` body: the fields the sandbox can fill sensibly for a delimited-file source.
    fn to_json(&self, owner_id: &str) -> Value {
        let created = rfc3339(self.created);
        json!({
            "id": self.id,
            "name": self.name,
            "description": format!("Sandbox source {}", self.name),
            "owner": {"type": "IDENTITY", "id": owner_id, "name": "sandbox.admin"},
            "cluster": null,
            "features": ["DIRECT_PERMISSIONS", "NO_RANDOM_ACCESS"],
            "type": "DelimitedFile",
            "connector": "delimited-file",
            "connectorClass": "sailpoint.connector.DelimitedFileConnector",
            "connectorAttributes": {},
            "deleteThreshold": 10,
            "authoritative": false,
            "healthy": true,
            "status": "SOURCE_STATE_HEALTHY",
            "connectorName": "Delimited File",
            "connectionType": "file",
            "connectorImplementationId": "delimited-file",
            "created": created,
            "modified": created,
            "credentialProviderEnabled": false,
            "category": null,
        })
    }
}

/// Every source, in creation order, and their schemas.
#[derive(Debug)]
pub(crate) struct Sources {
    owner_id: String,
    list: Mutex<Vec<SourceInfo>>,
    schemas: Mutex<HashMap<(String, SchemaKind), StoredSchema>>,
}

impl Sources {
    pub(crate) fn new() -> Self {
        Self {
            owner_id: crate::ids::hex32(),
            list: Mutex::new(Vec::new()),
            schemas: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<SourceInfo>> {
        self.list.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_schemas(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<(String, SchemaKind), StoredSchema>> {
        self.schemas.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a source with this id exists.
    pub(crate) fn exists(&self, id: &str) -> bool {
        self.lock().iter().any(|s| s.id == id)
    }

    /// Sets (or replaces) a schema of a source, creating the source if needed.
    pub(crate) fn set_schema(&self, source_id: &str, kind: SchemaKind, schema: SourceSchema) {
        self.ensure(source_id);
        let mut schemas = self.lock_schemas();
        match schemas.get_mut(&(source_id.to_owned(), kind)) {
            Some(stored) => {
                stored.schema = schema;
                stored.modified = Utc::now();
            }
            None => {
                schemas.insert(
                    (source_id.to_owned(), kind),
                    StoredSchema::new(kind, schema),
                );
            }
        }
    }

    /// A schema of a source, if it has one.
    pub(crate) fn schema(&self, source_id: &str, kind: SchemaKind) -> Option<SourceSchema> {
        self.lock_schemas()
            .get(&(source_id.to_owned(), kind))
            .map(|s| s.schema.clone())
    }

    /// The column uploads of this kind are keyed by: the schema's identity attribute, or the
    /// first column.
    pub(crate) fn key_column(&self, source_id: &str, kind: SchemaKind) -> usize {
        self.schema(source_id, kind).map_or(0, |s| s.key_column())
    }

    /// Checks an uploaded file's header against the source's schema of `kind`; a source
    /// without one learns it from a non-empty header. The error is ISC's refusal text.
    pub(crate) fn check_header(
        &self,
        source_id: &str,
        kind: SchemaKind,
        header: &[String],
    ) -> Result<(), String> {
        let mut schemas = self.lock_schemas();
        let key = (source_id.to_owned(), kind);
        match schemas.get(&key) {
            Some(stored) => match stored.schema.mismatch(header) {
                Some(text) => Err(text),
                None => Ok(()),
            },
            None => {
                let learned = SourceSchema::new(header.iter().cloned());
                if learned.problem().is_none() {
                    tracing::debug!(
                        source_id,
                        kind = kind.name(),
                        ?header,
                        "schema learned from an upload"
                    );
                    schemas.insert(key, StoredSchema::new(kind, learned));
                }
                Ok(())
            }
        }
    }

    /// The `getSourceSchemas` answer, or `None` if the source does not exist.
    pub(crate) fn schemas_json(
        &self,
        source_id: &str,
        include_type: Option<&str>,
        names: Option<&[String]>,
    ) -> Option<Vec<Value>> {
        if !self.exists(source_id) {
            return None;
        }
        let schemas = self.lock_schemas();
        let get = |kind| schemas.get(&(source_id.to_owned(), kind));
        let group_id = get(SchemaKind::Group).map(|g| g.id.as_str());
        Some(
            [SchemaKind::Account, SchemaKind::Group]
                .into_iter()
                .filter_map(get)
                .filter(|s| s.selected(include_type, names))
                .map(|s| s.to_json(group_id))
                .collect(),
        )
    }

    /// Adds a source with a new id and returns the id.
    pub(crate) fn add(&self, name: &str) -> String {
        let id = crate::ids::hex32();
        self.lock().push(SourceInfo {
            id: id.clone(),
            name: name.to_owned(),
            created: Utc::now(),
        });
        id
    }

    /// The source with this id, created as `Source <id>` if it does not exist yet.
    pub(crate) fn ensure(&self, id: &str) -> SourceInfo {
        let mut list = self.lock();
        if let Some(s) = list.iter().find(|s| s.id == id) {
            return s.clone();
        }
        let source = SourceInfo {
            id: id.to_owned(),
            name: format!("Source {id}"),
            created: Utc::now(),
        };
        list.push(source.clone());
        source
    }

    pub(crate) fn all(&self) -> Vec<SourceInfo> {
        self.lock().clone()
    }

    /// The `listSources` answer for these parameters: the page and the total before paging.
    pub(crate) fn list_json(&self, params: &Params) -> (Vec<Value>, usize) {
        let mut matching: Vec<SourceInfo> = self
            .lock()
            .iter()
            .filter(|s| {
                params.filter.matches(|field| match field {
                    "id" => (Some(s.id.clone()), Compare::Exact),
                    "name" => (Some(s.name.clone()), Compare::Exact),
                    _ => (None, Compare::Exact),
                })
            })
            .cloned()
            .collect();
        // Stable sorts applied from the last key to the first give a lexicographic order.
        for (field, descending) in params.sorters.iter().rev() {
            matching.sort_by(|a, b| {
                let ord = match field.as_str() {
                    "id" => a.id.cmp(&b.id),
                    "name" => a.name.cmp(&b.name),
                    _ => a.created.cmp(&b.created),
                };
                if *descending { ord.reverse() } else { ord }
            });
        }
        let (page, total) = page(matching, params.paging);
        (
            page.iter().map(|s| s.to_json(&self.owner_id)).collect(),
            total,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(query: &[(&str, &str)]) -> Params {
        let query: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Params::parse(&query, FILTERS, SORTERS).unwrap()
    }

    #[test]
    fn imported_sources_appear_once_and_names_may_repeat() {
        let sources = Sources::new();
        let a = sources.ensure("abc");
        assert_eq!(a.name, "Source abc");
        assert_eq!(sources.ensure("abc"), a);
        let hr1 = sources.add("HR \"Feed\"");
        let hr2 = sources.add("HR \"Feed\"");
        assert_ne!(hr1, hr2);
        assert_eq!(sources.all().len(), 3);

        let (found, total) = sources.list_json(&params(&[("filters", r#"name eq "HR \"Feed\"""#)]));
        assert_eq!(total, 2);
        assert_eq!(found[0]["id"], hr1.as_str());
        assert_eq!(found[1]["id"], hr2.as_str());

        let (found, _) = sources.list_json(&params(&[
            ("filters", &format!(r#"id in ("abc", "{hr2}")"#)),
            ("sorters", "-name"),
        ]));
        let ids: Vec<&str> = found.iter().map(|s| s["id"].as_str().unwrap()).collect();
        assert_eq!(
            ids,
            ["abc", hr2.as_str()],
            "'S' sorts after 'H', descending"
        );

        let (found, total) = sources.list_json(&params(&[("limit", "1"), ("offset", "1")]));
        assert_eq!(total, 3);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0]["id"], hr1.as_str());
        assert_eq!(found[0]["owner"]["type"], "IDENTITY");
        assert_eq!(found[0]["connector"], "delimited-file");
    }

    #[test]
    fn first_upload_teaches_the_schema_then_headers_must_match() {
        let sources = Sources::new();
        let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(sources.schemas_json("s", None, None).is_none());
        sources.ensure("s");
        assert_eq!(sources.schemas_json("s", None, None).unwrap().len(), 0);
        // An empty file teaches nothing.
        assert!(sources.check_header("s", SchemaKind::Account, &[]).is_ok());
        assert!(sources.schema("s", SchemaKind::Account).is_none());
        let header = names(&["id", "name"]);
        assert!(
            sources
                .check_header("s", SchemaKind::Account, &header)
                .is_ok()
        );
        assert_eq!(
            sources.schema("s", SchemaKind::Account).unwrap().columns,
            header
        );
        assert!(
            sources
                .check_header("s", SchemaKind::Account, &header)
                .is_ok()
        );
        assert_eq!(
            sources
                .check_header("s", SchemaKind::Account, &names(&["id", "nom"]))
                .unwrap_err(),
            "Column: [nom] is unknown and/or column: [name] is missing"
        );
        // The group schema is separate.
        assert!(
            sources
                .check_header("s", SchemaKind::Group, &names(&["value"]))
                .is_ok()
        );
        assert_eq!(sources.schemas_json("s", None, None).unwrap().len(), 2);
        let groups = sources.schemas_json("s", Some("group"), None).unwrap();
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0]["name"], "group");
        // Replacing keeps the id.
        let id = sources.schemas_json("s", Some("user"), None).unwrap()[0]["id"].clone();
        sources.set_schema(
            "s",
            SchemaKind::Account,
            SourceSchema::new(["a", "b"]).identity_attribute("b"),
        );
        let accounts = sources.schemas_json("s", Some("user"), None).unwrap();
        assert_eq!(accounts[0]["id"], id);
        assert_eq!(accounts[0]["identityAttribute"], "b");
        assert_eq!(sources.key_column("s", SchemaKind::Account), 1);
        assert_eq!(sources.key_column("s", SchemaKind::Group), 0);
    }
}
