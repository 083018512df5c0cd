-- wrk script for bench/api/run: one POST request, chosen by $SCENARIO.
--
-- Environment: SCENARIO (sipnum-urlencoded | sipnum-multipart | login | login-wrong-key |
-- vcall-token | vcall-agent-page | vcall-agent-call), LABEL (the scenario's name in the
-- result; SCENARIO by default), BENCH_TOKEN, BENCH_APPID, BENCH_ACCESSKEY,
-- BENCH_VCALL_KEY_ID, BENCH_VCALL_SECRET, BENCH_VCALL_TOKEN, BENCH_AGENTS (how many agents
-- 0..N-1 the agent calls take in turn).
-- done() prints one line "BENCH_RESULT {json}" that bench/api/report.py reads.

local scenario = os.getenv("SCENARIO")
local label = os.getenv("LABEL") or scenario
local token = os.getenv("BENCH_TOKEN") or ""
local appid = os.getenv("BENCH_APPID") or ""
local accesskey = os.getenv("BENCH_ACCESSKEY") or ""
local vcall_key_id = os.getenv("BENCH_VCALL_KEY_ID") or ""
local vcall_secret = os.getenv("BENCH_VCALL_SECRET") or ""
local vcall_token = os.getenv("BENCH_VCALL_TOKEN") or ""
local agents = tonumber(os.getenv("BENCH_AGENTS") or "1")

-- A multipart body as PHP's curl extension sends it for an array of POSTFIELDS.
local function multipart(boundary, fields)
  local parts = {}
  for _, field in ipairs(fields) do
    parts[#parts + 1] = "--" .. boundary .. "\r\n"
      .. 'Content-Disposition: form-data; name="' .. field[1] .. '"\r\n\r\n'
      .. field[2] .. "\r\n"
  end
  return table.concat(parts) .. "--" .. boundary .. "--\r\n"
end

wrk.method = "POST"
if scenario == "sipnum-urlencoded" then
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.body = "service=App.Sip_Sipnum.GetSipnumberInfo&token=" .. token .. "&status=3&extnumber="
elseif scenario == "sipnum-multipart" then
  local boundary = "------------------------5e1f0a3c9b7d2468"
  wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
  wrk.body = multipart(boundary, {
    { "service", "App.Sip_Sipnum.GetSipnumberInfo" },
    { "token", token },
    { "status", "3" },
    { "extnumber", "" },
  })
elseif scenario == "login" then
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.body = "service=App.Sip_Auth.Login&appid=" .. appid .. "&accesskey=" .. accesskey
elseif scenario == "login-wrong-key" then
  -- An attacker guessing the company's access key: the documented answer is a
  -- business failure (data.status 1), so that is what counts as expected here.
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.body = "service=App.Sip_Auth.Login&appid=" .. appid .. "&accesskey=wrong-" .. accesskey
elseif scenario == "vcall-token" then
  -- The vcall API's token request (seed 003, M1.1), as JSON.
  wrk.path = "/api/token"
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = '{"accessKeyId":"' .. vcall_key_id .. '","accessKeySecret":"' .. vcall_secret .. '"}'
elseif scenario == "vcall-agent-page" then
  -- A page of 10 agents of 50 (seed 003, M6.3): token in the query.
  wrk.method = "GET"
  wrk.path = "/api/agent/open/page?pageNo=2&pageSize=10&token=" .. vcall_token
  wrk.body = nil
elseif scenario == "vcall-agent-call" then
  -- An agent's click-to-call on its mobile (M7.1), the agents in turn: each request
  -- places a real call through the trunk (a carrier that answers busy).
  wrk.path = "/api/agent/open/call"
  wrk.headers["Content-Type"] = "application/json"
else
  error("unknown SCENARIO: " .. tostring(scenario))
end

local next_agent = 0
if scenario == "vcall-agent-call" then
  function request()
    next_agent = (next_agent + 1) % agents
    local body = '{"token":"' .. vcall_token .. '","agentNum":"' .. string.format("a%03d", next_agent)
      .. '","called":"628123456789","type":"phone"}'
    return wrk.format(nil, nil, nil, body)
  end
end

-- Per-thread counters (each wrk thread has its own Lua state).
non2xx, bad_ret, bad_status = 0, 0, 0

local ok_ret = '{"ret":200,'
local ok_status = '{"ret":200,"data":{"status":0,'
if scenario == "login-wrong-key" then
  ok_status = '{"ret":200,"data":{"status":1,'
elseif scenario == "vcall-token" then
  -- Its envelope: code first, integer 0 on success.
  ok_ret = '{"code":0,'
  ok_status = '{"code":0,"msg":"success",'
elseif scenario == "vcall-agent-page" then
  ok_ret = '{"code":"0",'
  ok_status = '{"code":"0","msg":"success",'
elseif scenario == "vcall-agent-call" then
  ok_ret = '{"code":"0000",'
  ok_status = '{"code":"0000","msg":"success",'
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
  -- Cheap prefix checks: the API always writes "ret" first, then data.status.
  if body:sub(1, #ok_ret) ~= ok_ret then
    bad_ret = bad_ret + 1
  elseif body:sub(1, #ok_status) ~= ok_status then
    bad_status = bad_status + 1
  end
end

local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

function done(summary, latency, requests)
  local counts = { non2xx = 0, bad_ret = 0, bad_status = 0 }
  for _, thread in ipairs(threads) do
    for name in pairs(counts) do
      counts[name] = counts[name] + thread:get(name)
    end
  end
  local e = summary.errors
  local ms = function(p) return latency:percentile(p) / 1000 end
  io.write(string.format(
    'BENCH_RESULT {"scenario":"%s","requests":%d,"seconds":%.3f,"rps":%.1f,'
      .. '"p50_ms":%.2f,"p90_ms":%.2f,"p99_ms":%.2f,"max_ms":%.2f,'
      .. '"non2xx":%d,"bad_ret":%d,"bad_status":%d,'
      .. '"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d}}\n',
    label, summary.requests, summary.duration / 1e6,
    summary.requests / (summary.duration / 1e6),
    ms(50), ms(90), ms(99), latency.max / 1000,
    counts.non2xx, counts.bad_ret, counts.bad_status,
    e.connect, e.read, e.write, e.timeout))
end
