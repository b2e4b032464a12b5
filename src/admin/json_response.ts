/**
 * The admin server's JSON answers, written once: every route (the API, the health and device
 * reads, the console's alerts) answers with {@link jsonResponse}, and every refusal with the same
 * body, `{"error": "<reason>"}` ({@link jsonError}); a route refuses by throwing an
 * {@link ApiError}.
 *
 * @module
 */

/** A refusal with its HTTP status; the message is the `error` the caller reads. */
export class ApiError extends Error {
  /**
   * @param status the HTTP status
   * @param message the `error` of the body
   */
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = "ApiError";
  }
}

/**
 * `body` as pretty JSON (one line per field, for `curl` readers), never cached.
 *
 * @example
 * ```ts
 * jsonResponse({ ok: true }, 201).status; // 201
 * ```
 */
export function jsonResponse(body: unknown, status = 200, headers: HeadersInit = {}): Response {
  return new Response(JSON.stringify(body, null, 2) + "\n", {
    status,
    headers: {
      "content-type": "application/json; charset=utf-8",
      "cache-control": "no-store",
      ...headers,
    },
  });
}

/**
 * The one error body of every admin route: `{"error": message}`.
 *
 * @example
 * ```ts
 * jsonError(404, "not found: /api/nothing");
 * ```
 */
export function jsonError(status: number, message: string, headers: HeadersInit = {}): Response {
  return jsonResponse({ error: message }, status, headers);
}

/**
 * A request's body as a JSON object; an empty body is `{}`. Anything else is refused with an
 * {@link ApiError} 400.
 */
export async function jsonObjectBody(request: Request): Promise<Record<string, unknown>> {
  const text = await request.text();
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ApiError(400, "the body must be JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ApiError(400, "the body must be a JSON object");
  }
  return value as Record<string, unknown>;
}
