-- wrk script: POST supervision events, each with its own Idempotency-Key, spread over persons.
-- Environment: BENCH_TOKEN, BENCH_PERSONS (comma-separated ids), BENCH_OCCURRED_AT, BENCH_RUN.
-- No response() callback: it would make wrk parse every answer and take CPU from the server on
-- this small machine; wrk counts non-2xx answers itself, and the database counts the rows.
local token = os.getenv("BENCH_TOKEN")
local persons = {}
for id in string.gmatch(os.getenv("BENCH_PERSONS"), "[^,]+") do persons[#persons + 1] = id end
local occurred = os.getenv("BENCH_OCCURRED_AT")
local run = os.getenv("BENCH_RUN")
local threads = {}
local counter = 0
local thread_id = 0

local bodies = {
  '{"type":"phone_check","occurred_at":"%s","payload":{"success":true}}',
  '{"type":"report","occurred_at":"%s","channel":"in_person"}',
  '{"type":"education","occurred_at":"%s","payload":{"hours":0.5,"topic":"法治教育"}}',
  '{"type":"talk","occurred_at":"%s","note":"个别谈话"}',
}

function setup(thread)
  thread:set("thread_id", #threads + 1)
  threads[#threads + 1] = thread
end

function init(args)
  thread_id = wrk.thread:get("thread_id")
end

function request()
  counter = counter + 1
  local person = persons[(counter * 7 + thread_id) % #persons + 1]
  local body = string.format(bodies[counter % #bodies + 1], occurred)
  return wrk.format("POST", "/api/v1/persons/" .. person .. "/events", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = run .. "-" .. thread_id .. "-" .. counter,
  }, body)
end
