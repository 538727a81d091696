#!/usr/bin/env python3
"""Writes docs/openapi.json, the hand-kept OpenAPI description of /api/v1 (docs/API.md).

Edit this file, run it, commit both. crates/web/tests/http_api.rs fails when a route is missing
from the description, and scripts/api-fuzz.sh (schemathesis) checks every response against it."""
import json
I64 = {"type": "integer", "format": "int64"}
def ref(n): return {"$ref": f"#/components/schemas/{n}"}
def nullable(s): return {**s, "nullable": True}
def obj(props, required=None, extra=True):
    o = {"type": "object", "properties": props, "required": required if required is not None else list(props)}
    if not extra: o["additionalProperties"] = False
    return o
err = lambda d: {"description": d, "content": {"application/json": {"schema": ref("Error")}}}
def ok(d, schema): return {"description": d, "content": {"application/json": {"schema": schema}}}
STD = {"401": err("No bearer token, or it is not valid or was revoked"),
       "404": err("No such record, or not yours to see (existence is not revealed)"),
       "422": err("A parameter or field broke a rule; `field` names it"),
       "default": err("Any other error, in the same shape")}
def responses(extra):
    r = dict(STD); r.update(extra); return r
def pid(name, desc, example):
    return {"name": name, "in": "path", "required": True, "description": desc,
            "schema": {**I64, "minimum": 1}, "example": example}
def q(name, schema, desc):
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": desc}
cluster = pid("id", "A cluster's id", 9)
meeting = pid("id", "A meeting's id", 145)
motion = pid("motion", "The agenda item number the motion is on", 4)
school = obj({"urn": {"type": "string"}, "name": {"type": "string"}, "phase": {"type": "string"},
    "governance": {"type": "string"}, "status": {"type": "string"}, "postcode": nullable({"type": "string"}),
    "district": nullable({"type": "string"}), "pupils": nullable({"type": "integer"}),
    "fsm_pct": nullable({"type": "string"}), "census_date": nullable({"type": "string"})})
summary_props = {"id": I64, "name": {"type": "string"}, "illustrative": {"type": "boolean"},
    "schools": {"type": "integer"}, "pupils": {"type": "integer"}, "secondaries": {"type": "integer"},
    "primaries": {"type": "integer"}, "others": {"type": "integer"}}
line_in = obj({
    "account": {"type": "string", "enum": ["funding", "available", "committed", "claims_due", "spent"]},
    "stream": {"type": "string", "minLength": 1, "maxLength": 80, "description": "The ring-fence's stream, e.g. \"Cluster admin funding\""},
    "phase": {"type": "string", "pattern": "^[a-z_]{1,40}$", "description": "primary, secondary, all, …"},
    "holder": {"type": "string", "pattern": "^(central|[0-9]{6})$", "description": "\"central\" or a member school's URN"},
    "side": {"type": "string", "enum": ["debit", "credit"]},
    "amount_pence": {**I64, "minimum": 1, "maximum": 100000000000}}, extra=False)
line_out = obj({k: v for k, v in {"account": {"type": "string"}, "stream": {"type": "string"}, "phase": {"type": "string"},
    "holder": {"type": "string"}, "side": {"type": "string"}, "amount_pence": I64}.items()})
kinds = ["receipt", "allocation", "commitment", "payment", "claim", "reimbursement", "virement", "reversal"]
date = {"type": "string", "format": "date", "description": "YYYY-MM-DD, years 2000 to 2100"}
entry_in = obj({
    "kind": {"type": "string", "enum": kinds},
    "date": date,
    "memo": {"type": "string", "minLength": 1, "maxLength": 200},
    "lines": {"type": "array", "items": ref("LineIn"), "minItems": 2, "maxItems": 500},
    "approval": nullable(obj({"approver": {"type": "string", "minLength": 1, "maxLength": 100},
        "reason": {"type": "string", "minLength": 1, "maxLength": 500}, "approved_on": date}, extra=False)),
    "exception": nullable({**I64, "minimum": 1}),
    "joint_project": {"type": "boolean"},
    "reverses": nullable({**I64, "minimum": 1}),
}, required=["kind", "date", "memo", "lines"], extra=False)
entry_in["example"] = {"kind": "allocation", "date": "2026-11-20", "memo": "Top-up (example)", "lines": [
    {"account": "available", "stream": "Cluster admin funding", "phase": "all", "holder": "central", "side": "credit", "amount_pence": 100},
    {"account": "available", "stream": "Cluster admin funding", "phase": "all", "holder": "136515", "side": "debit", "amount_pence": 100}]}
entry_out = obj({"id": I64, "seq": I64, "idempotency_key": nullable({"type": "string"}), "kind": {"type": "string"},
    "date": {"type": "string"}, "memo": {"type": "string"}, "lines": {"type": "array", "items": ref("LineOut")},
    "total_pence": I64, "approval": nullable(obj({"approver": {"type": "string"}, "reason": {"type": "string"}, "approved_on": {"type": "string"}})),
    "exception": nullable(I64), "joint_project": {"type": "boolean"}, "reverses": nullable(I64), "reversed_by": nullable(I64),
    "posted_by": {"type": "string"}, "posted_at": I64})
posted = obj({"id": I64, "seq": I64, "replayed": {"type": "boolean"}, "entry": ref("EntryOut")})
quorum = obj({"required": {"type": "integer"}, "present": {"type": "integer"}, "quorate": {"type": "boolean"}})
tally = obj({"for": {"type": "integer"}, "against": {"type": "integer"}, "abstain": {"type": "integer"}})
item = {"type": "object", "required": ["number", "visible"], "properties": {
    "number": {"type": "integer"}, "visible": {"type": "boolean"}, "title": {"type": "string"},
    "restricted": {"type": "boolean"},
    "motion": nullable(obj({"text": {"type": "string"}, "proposer": I64, "seconder": I64})),
    "votes": {"type": "array", "items": ref("Vote")}, "casting_vote": nullable({"type": "string"}),
    "tally": nullable(tally), "outcome": nullable({"type": "string"}), "recorded_outcome": nullable({"type": "string"}),
    "quorum": nullable(quorum), "voting_schools": nullable({"type": "array", "items": {"type": "string"}}),
    "error": nullable({"type": "string"}), "approves_minutes_of": nullable(I64), "meeting": I64}}
vote_out = obj({"school": {"type": "string"}, "choice": {"type": "string", "enum": ["for", "against", "abstain"]}})
schemas = {
    "Error": obj({"status": {"type": "integer"}, "code": {"type": "string"}, "message": {"type": "string"},
                  "field": {"type": "string"}}, required=["status", "code", "message"]),
    "School": school, "LineIn": line_in, "LineOut": line_out, "EntryIn": entry_in, "EntryOut": entry_out,
    "Posted": posted, "Item": item, "Vote": vote_out,
}
ckey = {"name": "Idempotency-Key", "in": "header", "required": True,
        "description": "Unique per posting: a retry with the same key and content returns the first entry (200, replayed); with other content it is 409",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{8,100}$"}}
paths = {
 "/api/v1/openapi.json": {"get": {"operationId": "openapi", "summary": "This description", "security": [],
    "responses": {"200": ok("The OpenAPI description", {"type": "object"}), "default": err("Error")}}},
 "/api/v1/schools": {"get": {"operationId": "listSchools", "summary": "Schools, searched, filtered, sorted and paged like /schools",
    "parameters": [q("q", {"type": "string", "maxLength": 200}, "Name, URN, LAESTAB or postcode"),
        q("phase", {"type": "string", "enum": ["nursery", "primary", "middle_primary", "middle_secondary", "secondary", "all_through", "16_plus", "special", "alternative_provision", "independent"]}, "Phase"),
        q("district", {"type": "string", "maxLength": 200}, "District name"),
        q("cluster", {**I64, "minimum": 1}, "Cluster id"),
        q("sort", {"type": "string", "enum": ["name", "urn", "pupils", "fsm", "district"]}, "Sort column"),
        q("dir", {"type": "string", "enum": ["asc", "desc"]}, "Direction"),
        q("page", {"type": "integer", "minimum": 1, "maximum": 100000}, "Page, from 1"),
        q("per_page", {"type": "integer", "minimum": 1, "maximum": 200}, "Rows per page (50)")],
    "responses": responses({"200": ok("A page of schools", obj({"total": I64, "page": I64, "per_page": I64,
        "schools": {"type": "array", "items": {"allOf": [ref("School")], "type": "object", "properties": {"cluster": nullable(obj({"id": I64, "name": {"type": "string"}}))}}}}))})}},
 "/api/v1/clusters": {"get": {"operationId": "listClusters", "summary": "Clusters with members today",
    "responses": responses({"200": ok("Clusters", obj({"clusters": {"type": "array", "items": obj(summary_props)}}))})}},
 "/api/v1/clusters/{id}": {"get": {"operationId": "getCluster", "summary": "A cluster and its members today", "parameters": [cluster],
    "responses": responses({"200": ok("The cluster", obj({**summary_props, "members": {"type": "array", "items": {"allOf": [ref("School")], "type": "object", "properties": {"role": {"type": "string"}, "since": {"type": "string"}}, "required": ["role", "since"]}}}))})}},
 "/api/v1/clusters/{id}/allocation": {"get": {"operationId": "getAllocation", "summary": "The cluster's allocation under the policy in force today (lines of the schools the caller may see)", "parameters": [cluster],
    "responses": responses({"200": ok("The allocation", obj({"cluster": obj({"id": I64, "name": {"type": "string"}}),
        "policy": obj({"name": {"type": "string"}, "id": nullable(I64), "version": nullable({"type": "integer"})}),
        "budget_pence": I64, "central_pence": I64,
        "streams": {"type": "array", "items": obj({"name": {"type": "string"}, "budget_pence": I64, "pots": {"type": "array", "items": obj({
            "stream": {"type": "string"}, "phase": {"type": "string"}, "budget_pence": I64, "top_slice_pence": I64, "reconciles": {"type": "boolean"},
            "lines": {"type": "array", "items": obj({"school": nullable({"type": "string"}), "component": {"type": "string"}, "amount_pence": I64, "explanation": {"type": "string"}})}})}})},
        "schools": {"type": "array", "items": obj({"urn": {"type": "string"}, "name": {"type": "string"}, "total_pence": I64})}})),
        "403": err("Not the caller's to see")})}},
 "/api/v1/clusters/{id}/ledger": {"get": {"operationId": "getLedger", "summary": "The ledger: journal length, balance of every visible account, their sum (0 when it balances) and the budget by ring-fence", "parameters": [cluster],
    "responses": responses({"200": ok("The ledger", obj({"cluster": obj({"id": I64, "name": {"type": "string"}}), "entries": I64, "sum_pence": I64,
        "balanced": {"type": "boolean"}, "reconciles": {"type": "boolean"}, "synthetic": {"type": "boolean"},
        "accounts": {"type": "array", "items": obj({"account": {"type": "string"}, "stream": {"type": "string"}, "phase": {"type": "string"}, "holder": {"type": "string"}, "balance_pence": I64})},
        "fences": {"type": "array", "items": obj({"stream": {"type": "string"}, "phase": {"type": "string"}, "received_pence": I64, "allocated_to_schools_pence": I64, "committed_pence": I64, "spent_pence": I64, "remaining_pence": I64})},
        "positions": {"type": "array", "items": obj({"stream": {"type": "string"}, "phase": {"type": "string"}, "holder": {"type": "string"}, "available_pence": I64, "committed_pence": I64, "claims_due_pence": I64, "spent_pence": I64})}})),
        "403": err("No part in this ledger")})}},
 "/api/v1/clusters/{id}/ledger/entries": {
   "get": {"operationId": "listLedgerEntries", "summary": "The journal in order with each entry's idempotency key", "parameters": [cluster,
        q("key", {"type": "string", "maxLength": 100}, "Only the entry posted with this idempotency key"),
        q("limit", {"type": "integer", "minimum": 1, "maximum": 10000}, "At most this many (1000)"),
        q("offset", {**I64, "minimum": 0}, "Skip this many")],
    "responses": responses({"200": ok("Entries", obj({"total": I64, "entries": {"type": "array", "items": ref("EntryOut")}})), "403": err("No part in this ledger")})},
   "post": {"operationId": "postLedgerEntry", "summary": "Post an entry, exactly once per Idempotency-Key", "parameters": [cluster, ckey],
    "requestBody": {"required": True, "content": {"application/json": {"schema": ref("EntryIn")}}},
    "responses": responses({"201": ok("Posted", ref("Posted")), "200": ok("The key was posted before with the same content: the original entry", ref("Posted")),
        "403": err("The caller may not post this kind of entry here"), "409": err("The key was used for different content, or the ledger stayed busy"),
        "413": err("Body over 1 MiB"), "415": err("Body not JSON")})}},
 "/api/v1/clusters/{id}/meetings": {"get": {"operationId": "listMeetings", "summary": "The committee's meetings", "parameters": [cluster],
    "responses": responses({"200": ok("Meetings", obj({"cluster": obj({"id": I64, "name": {"type": "string"}}), "meetings": {"type": "array", "items": obj({
        "id": I64, "held_on": {"type": "string"}, "title": {"type": "string"}, "held": {"type": "boolean"}, "quorate": {"type": "boolean"}, "minutes": {"type": "string"}})}})),
        "403": err("Not the caller's committee")})}},
 "/api/v1/meetings/{id}": {"get": {"operationId": "getMeeting", "summary": "A meeting: attendance (who votes for which school) and every item", "parameters": [meeting],
    "responses": responses({"200": ok("The meeting", obj({"id": I64, "cluster": obj({"id": I64, "name": {"type": "string"}}), "held_on": {"type": "string"},
        "title": {"type": "string"}, "held": {"type": "boolean"}, "closed": {"type": "boolean"}, "runs_meeting": {"type": "boolean"}, "minutes": {"type": "string"},
        "quorum": nullable(quorum), "problem": nullable({"type": "string"}),
        "attendance": {"type": "array", "items": obj({"person": I64, "name": {"type": "string"}, "status": {"type": "string"}, "votes_for": nullable({"type": "string"})})},
        "items": {"type": "array", "items": ref("Item")}})), "403": err("Not the caller's committee")})}},
 "/api/v1/meetings/{id}/motions": {"post": {"operationId": "addMotion", "summary": "Add an agenda item with a motion on it (the meeting must be held and open)", "parameters": [meeting],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {**obj({"title": {"type": "string", "minLength": 1, "maxLength": 200},
        "text": {"type": "string", "minLength": 1, "maxLength": 2000}, "proposer": {**I64, "minimum": 1}, "seconder": {**I64, "minimum": 1}}, extra=False),
        "example": {"title": "Example motion", "text": "That the committee notes the example.", "proposer": 1028, "seconder": 1030}}}}},
    "responses": responses({"201": ok("Added", obj({"meeting": I64, "motion": {"type": "integer"}})), "403": err("Does not run this committee"),
        "409": err("The meeting stayed busy"), "413": err("Body over 1 MiB"), "415": err("Body not JSON")})}},
 "/api/v1/meetings/{id}/motions/{motion}/votes": {
   "get": {"operationId": "getVotes", "summary": "The motion's votes, tally and outcome", "parameters": [meeting, motion],
    "responses": responses({"200": ok("The tally", ref("Item")), "403": err("Not the caller's committee")})},
   "post": {"operationId": "recordVote", "summary": "Record or replace one school's vote (an idempotent upsert: one vote per school)", "parameters": [meeting, motion],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {**obj({"school": {"type": "string", "pattern": "^[0-9]{6}$"},
        "choice": {"type": "string", "enum": ["for", "against", "abstain"]}}, extra=False), "example": {"school": "136515", "choice": "for"}}}}},
    "responses": responses({"200": ok("Recorded", obj({"meeting": I64, "motion": {"type": "integer"}, "school": {"type": "string"}, "choice": {"type": "string"},
        "changed": {"type": "boolean"}, "tally": ref("Item")})), "403": err("Does not run this committee"),
        "409": err("The result is declared, or the meeting stayed busy"), "413": err("Body over 1 MiB"), "415": err("Body not JSON")})}},
}
doc = {"openapi": "3.0.3",
  "info": {"title": "Clusterwise API", "version": "1",
           "description": "The JSON API of Clusterwise (docs/API.md). Authenticate with `Authorization: Bearer <token>` from `clusterwise token create`; the token acts as its user. Every error has the shape of `Error`."},
  "servers": [{"url": "/"}],
  "security": [{"bearer": []}],
  "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "An API token (cwt_…)"}}, "schemas": schemas},
  "paths": paths}
import os; open(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'docs', 'openapi.json'), 'w').write(json.dumps(doc, indent=2) + "\n")
