// The label selector the HPA sends with an external metric request, as the metric's matchLabels render it:
// comma-separated key=value (or key==value) terms. Set-based terms are not meaningful for selecting one
// pipeline and are refused with a message saying so.

export type ParsedSelector = { ok: true; labels: Record<string, string> } | { ok: false; message: string };

export function parseEqualitySelector(selector: string): ParsedSelector {
  const labels: Record<string, string> = {};
  for (const term of selector
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "")) {
    const match = /^([A-Za-z0-9./_-]+)\s*==?\s*([A-Za-z0-9._-]*)$/.exec(term);
    if (match === null) {
      return {
        ok: false,
        message: `label selector term '${term}' is not key=value; only equality terms select a pipeline`,
      };
    }
    const [, key = "", value = ""] = match;
    labels[key] = value;
  }
  return { ok: true, labels };
}
