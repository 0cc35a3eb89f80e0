//! Every route, with real data through the real binary, and `/openapi.json` against the routes
//! actually served.

use serde_json::{json, Value};

use crate::harness::{client, entity_of, json, Sidecar, STORES};

async fn call(
    client: &reqwest::Client,
    sidecar: &Sidecar,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = client.request(method, sidecar.url(path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    json(request.send().await.unwrap()).await
}

#[tokio::test]
async fn every_kind_round_trips_and_metrics_show_each_entity() {
    let dir = tempfile::tempdir().unwrap();
    let sidecar = Sidecar::start_in(dir.path(), STORES, &[]);
    let c = client();
    let s = &sidecar;

    // key-value
    assert_eq!(
        call(
            &c,
            s,
            "PUT",
            "/v1/key_value/sessions/keys/s1",
            Some(json!({"value": "alice", "ttl": "1h"}))
        )
        .await,
        (200, json!({"written": true}))
    );
    assert_eq!(
        call(&c, s, "GET", "/v1/key_value/sessions/keys/s1", None).await,
        (200, json!({"key": "s1", "value": "alice"}))
    );
    assert_eq!(
        call(
            &c,
            s,
            "PUT",
            "/v1/key_value/sessions/keys/b",
            Some(json!({"value_base64": "AP8="}))
        )
        .await
        .0,
        200
    );
    assert_eq!(
        call(&c, s, "GET", "/v1/key_value/sessions/keys/b", None)
            .await
            .1["value_base64"],
        "AP8="
    );
    let (status, body) = call(
        &c,
        s,
        "PUT",
        "/v1/key_value/sessions/keys/s1",
        Some(json!({"value": "bob", "condition": "if_absent"})),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("condition_failed"))
    );
    assert_eq!(
        call(
            &c,
            s,
            "POST",
            "/v1/key_value/sessions/set_many",
            Some(json!({"entries": [{"key": "m1", "value": "1"}, {"key": "m2", "value": "2"}]}))
        )
        .await,
        (200, json!({"written": 2}))
    );
    assert_eq!(
        call(
            &c,
            s,
            "POST",
            "/v1/key_value/sessions/get_many",
            Some(json!({"keys": ["m1", "zz", "m2"]}))
        )
        .await
        .1,
        json!({"values": [{"key": "m1", "value": "1"}, {"key": "zz", "value": null}, {"key": "m2", "value": "2"}]})
    );
    assert_eq!(
        call(
            &c,
            s,
            "POST",
            "/v1/key_value/sessions/keys/n/increment",
            Some(json!({"delta": 5}))
        )
        .await
        .1,
        json!({"value": 5})
    );
    assert_eq!(
        call(&c, s, "DELETE", "/v1/key_value/sessions/keys/s1", None).await,
        (200, json!({"deleted": true}))
    );
    assert_eq!(
        call(&c, s, "GET", "/v1/key_value/sessions/keys/s1", None)
            .await
            .0,
        404
    );
    assert_eq!(
        call(&c, s, "DELETE", "/v1/key_value/sessions/keys/s1", None)
            .await
            .0,
        404
    );

    // relational, through named statements only
    assert_eq!(
        call(
            &c,
            s,
            "POST",
            "/v1/relational/orders/statements/add",
            Some(json!({"params": [1, "ann", 12.5]}))
        )
        .await,
        (200, json!({"affected": 1}))
    );
    assert_eq!(
        call(
            &c,
            s,
            "POST",
            "/v1/relational/orders/statements/add",
            Some(json!({"params": [2, "ann", 7.5]}))
        )
        .await
        .0,
        200
    );
    assert_eq!(
        call(
            &c,
            s,
            "POST",
            "/v1/relational/orders/statements/add",
            Some(json!({"params": [1, "bob", 1.0]}))
        )
        .await
        .0,
        409
    );
    assert_eq!(
        call(
            &c,
            s,
            "POST",
            "/v1/relational/orders/queries/by_customer",
            Some(json!({"params": ["ann"]}))
        )
        .await,
        (
            200,
            json!({"columns": ["id", "total"], "rows": [[1, 12.5], [2, 7.5]], "truncated": false, "next": null})
        )
    );
    let (status, body) = call(&c, s, "GET", "/v1/relational/orders/queries", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["statements"].as_array().unwrap().len(), 2);

    // time series: JSON and line protocol
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    assert_eq!(
        call(&c, s, "POST", "/v1/time_series/cpu/points", Some(json!({"points": [{"measurement": "cpu", "tags": {"host": "a"}, "fields": {"usage": 0.5}, "timestamp": now - 2_000_000_000}]}))).await,
        (200, json!({"written": 1}))
    );
    let lines = format!(
        "cpu,host=a usage=0.7 {}\ncpu,host=b usage=0.1,cores=4i {}\n",
        now - 1_000_000_000,
        now - 1_000_000_000
    );
    let response = c
        .post(s.url("/v1/time_series/cpu/lines"))
        .body(lines)
        .send()
        .await
        .unwrap();
    assert_eq!(json(response).await, (200, json!({"written": 2})));
    let (_, body) = call(
        &c,
        s,
        "POST",
        "/v1/time_series/cpu/range",
        Some(json!({"measurement": "cpu", "start": 0, "end": now, "tags": {"host": "a"}})),
    )
    .await;
    assert_eq!(body["series"][0]["fields"]["usage"], json!([0.5, 0.7]));
    let (_, body) = call(&c, s, "POST", "/v1/time_series/cpu/window", Some(json!({"measurement": "cpu", "field": "usage", "start": 0, "end": now, "every": "1h", "aggregate": "max", "group_by": ["host"]}))).await;
    assert_eq!(body["groups"].as_array().unwrap().len(), 2, "{body}");
    let (_, body) = call(
        &c,
        s,
        "POST",
        "/v1/time_series/cpu/last",
        Some(json!({"measurement": "cpu", "tags": {"host": "b"}})),
    )
    .await;
    assert_eq!(
        body["points"][0]["fields"],
        json!({"usage": 0.1, "cores": 4})
    );
    assert_eq!(
        call(
            &c,
            s,
            "POST",
            "/v1/time_series/cpu/delete_before",
            Some(json!({"before": 1}))
        )
        .await
        .0,
        200
    );

    // graph
    assert_eq!(
        call(
            &c,
            s,
            "PUT",
            "/v1/graph/friends/nodes/a",
            Some(json!({"label": "person", "properties": {"name": "Ann"}}))
        )
        .await
        .0,
        200
    );
    assert_eq!(call(&c, s, "POST", "/v1/graph/friends/batch", Some(json!({"nodes": [{"id": "b", "label": "person"}, {"id": "c", "label": "person"}], "edges": [{"from": "b", "label": "knows", "to": "c"}]}))).await.1, json!({"nodes": 2, "edges": 1}));
    assert_eq!(
        call(
            &c,
            s,
            "POST",
            "/v1/graph/friends/edges",
            Some(json!({"from": "a", "label": "knows", "to": "b", "properties": {"w": 2}}))
        )
        .await
        .0,
        200
    );
    assert_eq!(
        call(&c, s, "GET", "/v1/graph/friends/nodes/a", None)
            .await
            .1,
        json!({"id": "a", "label": "person", "properties": {"name": "Ann"}})
    );
    let (_, body) = call(
        &c,
        s,
        "GET",
        "/v1/graph/friends/nodes/a/neighbors?direction=out&labels=knows",
        None,
    )
    .await;
    assert_eq!(body["neighbors"][0]["node"]["id"], "b");
    assert_eq!(
        call(
            &c,
            s,
            "GET",
            "/v1/graph/friends/nodes/b/degree?direction=both",
            None
        )
        .await
        .1,
        json!({"degree": 2})
    );
    assert_eq!(
        call(
            &c,
            s,
            "POST",
            "/v1/graph/friends/traverse",
            Some(json!({"start": "a", "max_depth": 2}))
        )
        .await
        .1,
        json!({"visits": [{"id": "b", "depth": 1}, {"id": "c", "depth": 2}], "next": null})
    );
    assert_eq!(
        call(
            &c,
            s,
            "POST",
            "/v1/graph/friends/shortest_path",
            Some(json!({"from": "a", "to": "c", "max_depth": 4}))
        )
        .await
        .1,
        json!({"path": {"nodes": ["a", "b", "c"], "cost": 2.0}})
    );
    assert_eq!(
        call(
            &c,
            s,
            "POST",
            "/v1/graph/friends/edges",
            Some(json!({"from": "a", "label": "knows", "to": "ghost"}))
        )
        .await
        .0,
        404
    );
    assert_eq!(
        call(&c, s, "DELETE", "/v1/graph/friends/edges/a/knows/b", None)
            .await
            .0,
        200
    );
    assert_eq!(
        call(&c, s, "DELETE", "/v1/graph/friends/nodes/c", None)
            .await
            .0,
        200
    );
    assert_eq!(
        call(&c, s, "GET", "/v1/graph/friends/nodes/c", None)
            .await
            .0,
        404
    );

    // documents
    assert_eq!(
        call(
            &c,
            s,
            "PUT",
            "/v1/document/products/docs/p1",
            Some(json!({"name": "Lamp", "category": "home", "price": 25}))
        )
        .await
        .0,
        200
    );
    assert_eq!(call(&c, s, "POST", "/v1/document/products/docs", Some(json!({"id": "p2", "document": {"name": "Desk", "category": "office", "price": 120}}))).await.0, 201);
    assert_eq!(
        call(
            &c,
            s,
            "POST",
            "/v1/document/products/docs",
            Some(json!({"id": "p2", "document": {}}))
        )
        .await
        .0,
        409
    );
    assert_eq!(
        call(&c, s, "GET", "/v1/document/products/docs/p2", None)
            .await
            .1["document"]["name"],
        "Desk"
    );
    let (_, body) = call(&c, s, "POST", "/v1/document/products/find", Some(json!({"filter": {"price": {"$lt": 200}}, "sort": [{"field": "price", "order": "desc"}], "limit": 1}))).await;
    assert_eq!(body["documents"][0]["id"], "p2");
    assert_eq!(
        call(
            &c,
            s,
            "POST",
            "/v1/document/products/count",
            Some(json!({"filter": {"category": {"$in": ["home", "office"]}}}))
        )
        .await
        .1,
        json!({"count": 2})
    );
    assert_eq!(
        call(
            &c,
            s,
            "POST",
            "/v1/document/products/indexes",
            Some(json!({"field": "price"}))
        )
        .await
        .0,
        200
    );
    assert_eq!(
        call(&c, s, "DELETE", "/v1/document/products/docs/p1", None)
            .await
            .0,
        200
    );

    // wide column
    assert_eq!(call(&c, s, "POST", "/v1/wide_column/clicks/rows", Some(json!({"rows": [{"user_id": 7, "at": 1, "page": "/a"}, {"user_id": 7, "at": 2, "page": "/b"}, {"user_id": 7, "at": 3, "page": "/c"}]}))).await.1, json!({"written": 3}));
    assert_eq!(
        call(
            &c,
            s,
            "POST",
            "/v1/wide_column/clicks/rows",
            Some(json!({"rows": [{"user_id": 8, "at": 1, "page": "/z"}], "ttl": "1h"}))
        )
        .await
        .0,
        200
    );
    let (_, body) = call(&c, s, "POST", "/v1/wide_column/clicks/slice", Some(json!({"partition": [7], "start": {"key": [1], "inclusive": false}, "order": "desc", "limit": 5}))).await;
    assert_eq!(
        body,
        json!({"rows": [{"user_id": 7, "at": 3, "page": "/c"}, {"user_id": 7, "at": 2, "page": "/b"}], "next": null})
    );
    assert_eq!(
        call(
            &c,
            s,
            "POST",
            "/v1/wide_column/clicks/get",
            Some(json!({"partition": [7], "clustering": [2]}))
        )
        .await
        .1["row"]["page"],
        "/b"
    );
    assert_eq!(
        call(
            &c,
            s,
            "POST",
            "/v1/wide_column/clicks/delete",
            Some(json!({"partition": [7], "clustering": [2]}))
        )
        .await
        .0,
        200
    );
    assert_eq!(
        call(
            &c,
            s,
            "POST",
            "/v1/wide_column/clicks/get",
            Some(json!({"partition": [7], "clustering": [2]}))
        )
        .await
        .0,
        404
    );
    assert_eq!(
        call(
            &c,
            s,
            "POST",
            "/v1/wide_column/clicks/delete",
            Some(json!({"partition": [7]}))
        )
        .await
        .0,
        200
    );
    let (status, body) = call(
        &c,
        s,
        "POST",
        "/v1/wide_column/clicks/rows",
        Some(json!({"rows": [{"at": 1}]})),
    )
    .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("rows[0].user_id"))
    );

    // search
    assert_eq!(call(&c, s, "POST", "/v1/search/catalog/docs", Some(json!({"documents": [{"id": "p1", "fields": {"name": "Desk lamp", "category": "home", "price": 25.0}}, {"id": "p2", "fields": {"name": "Oak desk", "category": "office", "price": 120.0}}]}))).await.0, 200);
    assert_eq!(
        call(&c, s, "POST", "/v1/search/catalog/refresh", None)
            .await
            .0,
        200
    );
    let (_, body) = call(
        &c,
        s,
        "POST",
        "/v1/search/catalog/query",
        Some(json!({"text": "desk", "filters": [{"field": "price", "max": 100}]})),
    )
    .await;
    assert_eq!(
        (body["total"].as_u64(), body["hits"][0]["id"].as_str()),
        (Some(1), Some("p1"))
    );
    assert_eq!(
        call(&c, s, "DELETE", "/v1/search/catalog/docs/p2", None)
            .await
            .0,
        200
    );

    // metrics: a series per entity and operation, with the store
    let metrics = c
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for (entity, op, store) in [
        ("sessions", "key_value.get", "cache"),
        ("orders", "relational.query", "db"),
        ("cpu", "time_series.write_lines", "metrics"),
        ("friends", "graph.traverse", "social"),
        ("products", "document.find", "docs"),
        ("clicks", "wide_column.slice", "events"),
        ("catalog", "search.query", "text"),
    ] {
        let labels = format!("entity=\"{entity}\",op=\"{op}\",store=\"{store}\"");
        assert!(
            metrics.contains(&format!("polyroute_sidecar_requests_total{{{labels}}}")),
            "{labels} missing:\n{metrics}"
        );
        assert!(metrics.contains(&format!(
            "polyroute_sidecar_request_duration_seconds_count{{{labels}}}"
        )));
    }
    assert!(metrics.contains("polyroute_sidecar_errors_total{entity=\"sessions\",op=\"key_value.get\",store=\"cache\",status=\"404\"} 1"), "{metrics}");
}

/// The router's own series share the page with the sidecar's: each call by entity, operation,
/// store and kind, its duration, and every store's breaker state.
#[tokio::test]
async fn metrics_show_the_router_calls_and_breakers() {
    let dir = tempfile::tempdir().unwrap();
    let sidecar = Sidecar::start_in(dir.path(), STORES, &[]);
    let c = client();
    let s = &sidecar;
    let put = Some(json!({"value": "alice"}));
    assert_eq!(
        call(&c, s, "PUT", "/v1/key_value/sessions/keys/s1", put)
            .await
            .0,
        200
    );
    for key in ["s1", "absent"] {
        let path = format!("/v1/key_value/sessions/keys/{key}");
        call(&c, s, "GET", &path, None).await;
    }
    let metrics = c
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let get = "entity=\"sessions\",op=\"get\",store=\"cache\",kind=\"key_value\"";
    assert!(
        metrics.contains(&format!("polyroute_calls_total{{{get}}} 2")),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!("polyroute_call_duration_seconds_count{{{get}}} 2")),
        "{metrics}"
    );
    assert!(
        metrics.contains("# TYPE polyroute_breaker_state gauge"),
        "{metrics}"
    );
    for store in ["cache", "db", "docs", "metrics", "social", "events", "text"] {
        assert!(
            metrics.contains(&format!("polyroute_breaker_state{{store=\"{store}\"}} 0")),
            "{store}: {metrics}"
        );
    }
    // The sidecar's request series are still there, beside the router's.
    assert!(
        metrics.contains("polyroute_sidecar_requests_total{entity=\"sessions\",op=\"key_value.get\",store=\"cache\"} 2"),
        "{metrics}"
    );
}

/// Every operation `/openapi.json` lists is served (no 404 for the path, no 405 for the method)
/// and answers one of the statuses the document lists; the operational endpoints answer.
#[tokio::test]
async fn the_openapi_document_matches_the_served_routes() {
    let dir = tempfile::tempdir().unwrap();
    let sidecar = Sidecar::start_in(dir.path(), STORES, &[]);
    let c = client();
    let (status, doc) = json(c.get(sidecar.url("/openapi.json")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.0.3");
    let paths = doc["paths"].as_object().unwrap();
    let mut operations = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let kind = path.split('/').nth(2).unwrap_or("");
            let concrete = path
                .replace(
                    "{entity}",
                    if path.starts_with("/v1/") {
                        entity_of(kind)
                    } else {
                        ""
                    },
                )
                .replace("{name}", "by_customer")
                .replace(['{', '}'], "");
            let mut request = c.request(
                reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                sidecar.url(&concrete),
            );
            if let Some(example) = op["requestBody"]["content"]["application/json"].get("example") {
                request = request.json(example);
            } else if let Some(example) = op["requestBody"]["content"]["text/plain"].get("example")
            {
                request = request.body(example.as_str().unwrap().to_owned());
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16().to_string();
            let text = response.text().await.unwrap();
            assert!(
                !text.contains("\"no_route\"") && !text.contains("\"method_not_allowed\""),
                "{method} {path} is documented but not served: {text}"
            );
            assert!(
                op["responses"].get(&status).is_some(),
                "{method} {concrete} answered {status}, which the document does not list: {text}"
            );
        }
    }
    assert!(operations >= 40, "only {operations} operations documented");
    let (status, body) = json(c.get(sidecar.url("/v1/nothing/here")).send().await.unwrap()).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("no_route")));
    let (status, body) = json(
        c.patch(sidecar.url("/v1/key_value/sessions/keys/a"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
}
