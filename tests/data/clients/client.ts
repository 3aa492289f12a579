// A tiny client typed by the types openapi-typescript generates from the contract (wan.d.ts):
// tsc must accept it, and must refuse the two requests marked @ts-expect-error.
import type { components, paths } from "./wan";

type Create = paths["/vendors/alibaba/v1/wan2.6-i2v/generation"]["post"];
type Poll = paths["/vendors/alibaba/v1/wan2.6-i2v/generation/{task_id}"]["get"];
type Body = Create["requestBody"]["content"]["application/json"];
type Envelope = components["schemas"]["TaskEnvelope"];
type Failure = components["schemas"]["Error"];
type Path = Poll["parameters"]["path"];

const PATH = "/vendors/alibaba/v1/wan2.6-i2v/generation";

export function reason(body: Failure): string {
  if ("task_info" in body) return body.task_info.error?.detail ?? body.task_info.status;
  return body.detail;
}

async function call<T>(url: string, key: string, init: RequestInit = {}): Promise<T> {
  const headers = { Authorization: `Bearer ${key}`, "Content-Type": "application/json" };
  const response = await fetch(url, { ...init, headers });
  if (!response.ok) throw new Error(reason((await response.json()) as Failure));
  return (await response.json()) as T;
}

export function create(base: string, key: string, body: Body): Promise<Envelope> {
  return call<Envelope>(base + PATH, key, { method: "POST", body: JSON.stringify(body) });
}

export async function video(base: string, key: string, path: Path): Promise<string> {
  for (;;) {
    const envelope = await call<Envelope>(`${base}${PATH}/${path.task_id}`, key);
    const status = envelope.task_info.status;
    if (status === "failed") throw new Error(envelope.task_info.error?.detail ?? "failed");
    if (status === "succeeded" || status === "completed") return envelope.videos?.[0] ?? "";
    await new Promise((done) => setTimeout(done, 5000));
  }
}

export const request: Body = {
  prompt: "A lighthouse at dusk",
  image: "https://example.com/first_frame.jpg",
  duration: 10,
  resolution: "1080P",
  multi_shots: true,
  shot_type: null,
  audio_url: null,
};
// @ts-expect-error duration is 5, 10 or 15
export const badDuration: Body = { prompt: "a", image: "https://example.com/a.jpg", duration: 7 };
// @ts-expect-error multi_shots is a boolean or "single" / "multi"
export const badShots: Body = { prompt: "a", image: "https://example.com/a.jpg", multi_shots: "x" };
