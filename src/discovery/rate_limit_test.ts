import assert from "node:assert/strict";
import { RateLimiter } from "./rate_limit.ts";

Deno.test("each sender gets `limit` events per window", () => {
  let now = 0;
  const limiter = new RateLimiter(2, 60_000, { now: () => now, monotonic: () => now });
  assert.equal(limiter.allow("a"), true);
  assert.equal(limiter.allow("a"), true);
  assert.equal(limiter.allow("a"), false);
  assert.equal(limiter.allow("b"), true);
  now = 59_999;
  assert.equal(limiter.allow("a"), false);
  now = 60_000;
  assert.equal(limiter.allow("a"), true);
  assert.equal(limiter.allow("a"), true);
  assert.equal(limiter.allow("a"), false);
});

Deno.test("the table of senders stays bounded, forgetting the oldest", () => {
  const limiter = new RateLimiter(1, 60_000, { now: () => 0, monotonic: () => 0 }, 100);
  for (let i = 0; i < 1000; i++) limiter.allow(`10.0.${i >> 8}.${i & 255}`);
  assert.equal(limiter.size, 100);
  assert.equal(limiter.allow("10.0.3.231"), false); // recent: still remembered
  assert.equal(limiter.allow("10.0.0.0"), true); // oldest: forgotten
});
