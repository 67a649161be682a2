// Package klaviyo emulates the parts of Klaviyo's REST API (revision
// 2026-07-15) that switchyard writes to, as one in-memory http.Handler.
//
// Emulated:
//   - Auth: `Authorization: Klaviyo-API-Key <private key>` (default account
//     "Demo01", key pk_demo; more through POST /_emulator/accounts) and OAuth
//     apps (client switchyard / klaviyo-app-secret): GET|POST /oauth/authorize
//     (consent page, or auto-approve), POST /oauth/token (authorization_code
//     with PKCE, refresh_token; Basic or form client auth), POST /oauth/revoke,
//     then `Authorization: Bearer`. OAuth tokens are checked against the
//     operation's x-klaviyo-scopes (403 permission_denied).
//   - The required `revision` header (400 when missing, malformed or newer than
//     the contract), JSON:API bodies (application/vnd.api+json; plain
//     application/json accepted), request bodies and query parameters
//     validated against the embedded contract (400 invalid with a pointer).
//   - Profiles: POST /api/profile-import (201 created / 200 updated; null
//     clears, absent keeps; 409 duplicate_profile with meta.duplicate_profile_id
//     when the identifiers hit two profiles), POST /api/profiles (409 on any
//     existing identifier), PATCH and GET /api/profiles/{id}, GET /api/profiles
//     with filter (equals/any/greater-than/less-than, and/or/not), sort and
//     page[cursor]/page[size] paging.
//   - Events: POST /api/events (202, no body) upserting the profile and the
//     metric by name, deduplicated on (profile, metric, unique_id) or, without
//     unique_id, on (profile, metric, time to the second): the first one wins;
//     `backfill` stored. POST /api/event-bulk-create-jobs (202; processed at
//     once; ≤ 1,000 events): a unique_id repeated for the same profile and
//     metric, in the job or already stored, fails the whole job (nothing
//     processed), shown on the job: the 202's Location names
//     GET /api/event-bulk-create-jobs/{job_id}, an emulator extension (status
//     complete or failed, errors[]).
//   - Lists: POST/GET /api/lists (filter on name/id, ≤ 10 per page), GET
//     /api/lists/{id} (profile_count), POST/DELETE
//     /api/lists/{id}/relationships/profiles (ids only, ≤ 1,000).
//   - Bulk profile import jobs: POST /api/profile-bulk-import-jobs (≤ 10,000
//     profiles, 5 MB, 100 KB per profile; optional lists relationship), GET
//     the job, GET its import-errors. Jobs go queued → processing → complete,
//     one step per Config.BulkJobStep of emulator time (evaluated lazily, no
//     goroutines), or only through POST /_emulator/jobs/advance when
//     Config.BulkJobManual is set.
//   - Limits: 400 event properties, 100 KB strings, 5 MB payloads (100 KB on
//     single-profile writes), 128-character metric names, event time after
//     1990 and ≤ 1 year ahead.
//   - Rate limits: fixed windows per (account, or OAuth app install) and
//     operation, burst 1 s / steady 60 s / daily 24 h, sized from each
//     operation's x-klaviyo-ratelimit in the contract (windows scaled by
//     Config.RateLimitScale). Non-429 answers carry RateLimit-Limit,
//     RateLimit-Remaining, RateLimit-Reset (steady window); 429 carries
//     Retry-After only.
//   - Errors: JSON:API {"errors":[{id,status,code,title,detail,source,links,meta}]}
//     with an integer status.
//   - Control routes (emukit): GET /_emulator/state, POST /_emulator/faults,
//     POST /_emulator/reset, plus POST /_emulator/accounts, POST
//     /_emulator/seed, POST /_emulator/jobs/advance and POST
//     /_emulator/tokens/expire.
//
// Not emulated: flows (backfill is only recorded), segments, consent and
// subscriptions, suppression, push tokens, catalogs, campaigns, metrics and
// events read endpoints other than what is listed, the /client/ API,
// sparse fieldsets (fields[...] is accepted and ignored), include=...,
// additional-fields other than list profile_count, and per-row import
// progress while a bulk job is "processing".
package klaviyo
