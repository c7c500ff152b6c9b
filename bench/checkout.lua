-- wrk script: each wrk thread is one logged-in customer that adds an item to its cart and
-- checks out, over and over (a write-heavy mix: two session writes and one order per pair).
--   wrk -t16 -c16 -d20s --latency -s bench/checkout.lua http://127.0.0.1:8080
-- Give it one thread per connection (-t equal to -c): the customer, cookie and step are per
-- thread, so with fewer threads a thread's connections share one cart and race its checkout
-- (the shop answers the loser 409 or 400).
-- wrk measures from when it sends (coordinated omission is not corrected): its p99 is a
-- lower bound of what users waiting in line would see.

local counter = 0
local threads = {}

function setup(thread)
  counter = counter + 1
  thread:set("customer", counter)
  table.insert(threads, thread)
end

function init(args)
  cookie = nil
  step = 0
  orders = 0
  empty_cart = 0
  unavailable = 0
  other = 0
end

function request()
  local h = { ["Content-Type"] = "application/json" }
  if cookie == nil then
    return wrk.format("POST", "/login", h, '{"customer_id":' .. customer .. '}')
  end
  h["Cookie"] = cookie
  step = step + 1
  if step % 2 == 1 then
    return wrk.format("POST", "/cart/items", h, '{"product_id":' .. (step % 50 + 1) .. ',"quantity":1}')
  end
  return wrk.format("POST", "/checkout", h, "")
end

function response(status, headers, body)
  local set = headers["set-cookie"] or headers["Set-Cookie"]
  if set ~= nil and cookie == nil then
    cookie = string.match(set, "^(sid=[^;]+)")
  end
  if status == 201 then
    orders = orders + 1
  elseif status == 400 then
    -- Another connection of this thread checked the shared cart out first.
    empty_cart = empty_cart + 1
  elseif status == 503 or status == 504 then
    unavailable = unavailable + 1
  elseif status ~= 200 then
    other = other + 1
  end
end

function done(summary, latency, requests)
  local placed, empty, busy, odd = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    placed = placed + (t:get("orders") or 0)
    empty = empty + (t:get("empty_cart") or 0)
    busy = busy + (t:get("unavailable") or 0)
    odd = odd + (t:get("other") or 0)
  end
  io.write(string.format("orders placed: %d, %.0f/s; empty cart (400): %d; 503/504: %d; other: %d\n",
    placed, placed / (summary.duration / 1e6), empty, busy, odd))
end
