//! `/openapi.json` describes what the server does: every body and answer has a schema that
//! says what is in it, the examples are valid by those schemas, the answers to them match the
//! documented answers, and a body the document calls invalid because of its shape (an array
//! where an object is expected, trailing content) is refused.

use serde_json::{json, Value};

use crate::harness::{client, entity_of, json, Sidecar, STORES};

/// Follows `$ref`s to `#/components/schemas/…`.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("reference outside components: {reference}"));
            let target = &doc["components"]["schemas"][name];
            assert!(!target.is_null(), "dangling reference {reference}");
            resolve(doc, target)
        }
        None => schema,
    }
}

/// Why `value` does not match `schema` (the subset of OpenAPI 3.0 the document uses), if it
/// does not.
fn mismatch(doc: &Value, schema: &Value, value: &Value, at: &str) -> Option<String> {
    let schema = resolve(doc, schema);
    if value.is_null() && schema["nullable"] == json!(true) {
        return None;
    }
    if let Some(kind) = schema.get("type").and_then(Value::as_str) {
        let ok = match kind {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            other => panic!("unknown type {other} at {at}"),
        };
        if !ok {
            return Some(format!("{at}: {value} is not of type {kind}"));
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        if !options.contains(value) {
            return Some(format!("{at}: {value} is not one of {options:?}"));
        }
    }
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
        if value.as_f64().is_some_and(|v| v < min) {
            return Some(format!("{at}: {value} is below {min}"));
        }
    }
    for (keyword, want) in [("oneOf", Some(1)), ("anyOf", None)] {
        if let Some(options) = schema.get(keyword).and_then(Value::as_array) {
            let matching = options
                .iter()
                .filter(|option| mismatch(doc, option, value, at).is_none())
                .count();
            let ok = match want {
                Some(n) => matching == n,
                None => matching > 0,
            };
            if !ok {
                return Some(format!("{at}: {value} matches {matching} of {keyword}"));
            }
        }
    }
    if let Some(object) = value.as_object() {
        for name in schema["required"].as_array().into_iter().flatten() {
            if !object.contains_key(name.as_str().unwrap()) {
                return Some(format!("{at}: required member {name} is missing"));
            }
        }
        for (name, inner) in object {
            let here = format!("{at}.{name}");
            if let Some(property) = schema["properties"].get(name) {
                if let Some(why) = mismatch(doc, property, inner, &here) {
                    return Some(why);
                }
            } else if schema["additionalProperties"] == json!(false) {
                return Some(format!("{here}: not a documented member"));
            } else if let Some(extra) = schema.get("additionalProperties").filter(|s| s.is_object())
            {
                if let Some(why) = mismatch(doc, extra, inner, &here) {
                    return Some(why);
                }
            }
        }
    }
    if let (Some(items), Some(schema)) = (value.as_array(), schema.get("items")) {
        for (index, item) in items.iter().enumerate() {
            if let Some(why) = mismatch(doc, schema, item, &format!("{at}[{index}]")) {
                return Some(why);
            }
        }
    }
    None
}

/// Whether `schema` says nothing about an object's members.
fn bare_object(doc: &Value, schema: &Value) -> bool {
    let schema = resolve(doc, schema);
    schema["type"] == "object"
        && schema.get("properties").is_none()
        && schema.get("additionalProperties").is_none()
}

async fn document(c: &reqwest::Client, sidecar: &Sidecar) -> Value {
    let (status, doc) = json(c.get(sidecar.url("/openapi.json")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    doc
}

fn concrete(path: &str) -> String {
    let kind = path.split('/').nth(2).unwrap_or("");
    path.replace("{entity}", entity_of(kind))
        .replace("{name}", "by_customer")
        .replace(['{', '}'], "")
}

/// Every body and every answer of every operation is described member by member (no bare
/// `type: object`), each example is valid by its body's schema, and the server's answer to it
/// matches the documented answer for its status.
#[tokio::test]
async fn every_body_and_answer_is_described_and_the_examples_hold_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let sidecar = Sidecar::start_in(dir.path(), STORES, &[]);
    let c = client();
    let doc = document(&c, &sidecar).await;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/v1/") {
            continue;
        }
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap();
            for (status, response) in op["responses"].as_object().unwrap() {
                let schema = &response["content"]["application/json"]["schema"];
                assert!(!schema.is_null(), "{id} {status}: no JSON schema");
                assert!(!bare_object(&doc, schema), "{id} {status}: a bare object");
            }
            let mut request = c.request(
                reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                sidecar.url(&concrete(path)),
            );
            let content = &op["requestBody"]["content"];
            if let Some(media) = content.get("application/json") {
                let schema = &media["schema"];
                assert!(
                    !bare_object(&doc, schema),
                    "{id}: its body is a bare object"
                );
                let example = &media["example"];
                if let Some(why) = mismatch(&doc, schema, example, "body") {
                    panic!("{id}: the example does not match the body's schema: {why}");
                }
                request = request.json(example);
            } else if let Some(media) = content.get("text/plain") {
                request = request.body(media["example"].as_str().unwrap().to_owned());
            }
            let (status, answer) = json(request.send().await.unwrap()).await;
            let documented = &op["responses"][status.to_string()];
            assert!(
                !documented.is_null(),
                "{id} answered {status}, not documented: {answer}"
            );
            let schema = &documented["content"]["application/json"]["schema"];
            if let Some(why) = mismatch(&doc, schema, &answer, "answer") {
                panic!("{id} answered {status} {answer}, against its schema: {why}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 40, "only {checked} operations");
}

/// serde reads a struct from an array of its fields in order; the API documents objects, so
/// an array is refused at the top (400 naming the body) and inside (400 naming the member).
#[tokio::test]
async fn an_array_is_refused_where_an_object_is_expected() {
    let dir = tempfile::tempdir().unwrap();
    let sidecar = Sidecar::start_in(dir.path(), STORES, &[]);
    let c = client();
    for (path, body) in [
        ("/v1/key_value/sessions/keys/n/increment", "[1]"),
        ("/v1/key_value/sessions/get_many", r#"[["a"]]"#),
        ("/v1/graph/friends/traverse", r#"["a", "out", [], 1, null]"#),
        ("/v1/document/products/count", "[{}]"),
    ] {
        let (status, error) = json(
            c.post(sidecar.url(path))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 400, "{path} {body}: {error}");
        assert_eq!(error["code"], "invalid_body", "{error}");
        assert_eq!(error["field"], "body", "{error}");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("takes a JSON object"),
            "{error}"
        );
    }
    let (status, error) = json(
        c.post(sidecar.url("/v1/key_value/sessions/set_many"))
            .json(&json!({"entries": [["a", "1", null]]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, &error["field"]),
        (400, &json!("entries[0]")),
        "{error}"
    );
    let (status, _) = json(
        c.get(sidecar.url("/v1/key_value/sessions/keys/a"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404, "nothing was written");
}

/// A body is one JSON object: anything after it is malformed, not ignored.
#[tokio::test]
async fn content_after_the_body_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sidecar = Sidecar::start_in(dir.path(), STORES, &[]);
    let c = client();
    let (status, error) = json(
        c.post(sidecar.url("/v1/key_value/sessions/keys/n/increment"))
            .header("content-type", "application/json")
            .body(r#"{"delta": 1} {"delta": 5}"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (400, Some("malformed_json"))
    );
    let (status, _) = json(
        c.get(sidecar.url("/v1/key_value/sessions/keys/n"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404, "the increment did not apply");
}
