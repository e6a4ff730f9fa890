/**
 * Effect's metric snapshot in the Prometheus text exposition format
 * (version 0.0.4): one family per metric name, with its `# HELP` and
 * `# TYPE`; counters, gauges, histograms (cumulative `_bucket`s, `_sum`,
 * `_count`), summaries (quantiles, `_sum`, `_count`), and frequencies as a
 * counter with a `key` label. Effect has no such encoder of its own.
 *
 * @since 0.1.0
 */
import type { MetricKeyType, MetricPair } from "effect"
import { MetricState, Option } from "effect"

type Pair = MetricPair.MetricPair.Untyped
type Labels = ReadonlyArray<readonly [string, string]>

const sanitizeName = (name: string): string => {
  const cleaned = name.replace(/[^a-zA-Z0-9_:]/g, "_")
  return /^[a-zA-Z_:]/.test(cleaned) ? cleaned : `_${cleaned}`
}

const sanitizeLabel = (name: string): string => {
  const cleaned = name.replace(/[^a-zA-Z0-9_]/g, "_")
  return /^[a-zA-Z_]/.test(cleaned) ? cleaned : `_${cleaned}`
}

const escapeLabelValue = (value: string): string =>
  value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, "\\\"")

const escapeHelp = (text: string): string => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")

const formatNumber = (value: number | bigint): string => {
  if (typeof value === "bigint") return value.toString()
  if (Number.isNaN(value)) return "NaN"
  if (value === Infinity) return "+Inf"
  if (value === -Infinity) return "-Inf"
  return String(value)
}

const sample = (name: string, labels: Labels, value: number | bigint): string => {
  const text = labels.length === 0
    ? ""
    : `{${labels.map(([key, label]) => `${sanitizeLabel(key)}="${escapeLabelValue(label)}"`).join(",")}}`
  return `${name}${text} ${formatNumber(value)}`
}

interface Family {
  readonly type: "counter" | "gauge" | "histogram" | "summary"
  readonly help: string | undefined
  readonly samples: Array<string>
}

const typeOf = (state: MetricState.MetricState.Untyped): Family["type"] | undefined => {
  if (MetricState.isCounterState(state) || MetricState.isFrequencyState(state)) return "counter"
  if (MetricState.isGaugeState(state)) return "gauge"
  if (MetricState.isHistogramState(state)) return "histogram"
  if (MetricState.isSummaryState(state)) return "summary"
  return undefined
}

const samplesOf = (name: string, labels: Labels, state: MetricState.MetricState.Untyped): Array<string> => {
  if (MetricState.isCounterState(state)) return [sample(name, labels, state.count)]
  if (MetricState.isGaugeState(state)) return [sample(name, labels, state.value)]
  if (MetricState.isFrequencyState(state)) {
    return Array.from(state.occurrences, ([key, count]) => sample(name, [...labels, ["key", key]], count))
  }
  if (MetricState.isHistogramState(state)) {
    // Effect's buckets are cumulative already, the last one +Inf.
    const buckets = state.buckets
    const lines = buckets.map(([boundary, count]) =>
      sample(`${name}_bucket`, [...labels, ["le", formatNumber(boundary)]], count)
    )
    if (buckets.at(-1)?.[0] !== Infinity) lines.push(sample(`${name}_bucket`, [...labels, ["le", "+Inf"]], state.count))
    return [...lines, sample(`${name}_sum`, labels, state.sum), sample(`${name}_count`, labels, state.count)]
  }
  if (MetricState.isSummaryState(state)) {
    const quantiles = state.quantiles.flatMap(([quantile, value]) =>
      Option.isSome(value) ? [sample(name, [...labels, ["quantile", String(quantile)]], value.value)] : []
    )
    return [...quantiles, sample(`${name}_sum`, labels, state.sum), sample(`${name}_count`, labels, state.count)]
  }
  return []
}

/**
 * The text of a metric snapshot (`Metric.snapshot`), ending with a newline.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (pairs: ReadonlyArray<Pair>): string => {
  const families = new Map<string, Family>()
  for (const pair of pairs) {
    const key: { readonly name: string; readonly keyType: MetricKeyType.MetricKeyType.Untyped } = pair.metricKey
    const type = typeOf(pair.metricState)
    if (type === undefined) continue
    const name = sanitizeName(key.name)
    const labels: Labels = pair.metricKey.tags.map((tag) => [tag.key, tag.value] as const)
    const family = families.get(name) ?? { type, help: Option.getOrUndefined(pair.metricKey.description), samples: [] }
    // Prometheus wants one type per name: a second metric of another type under the same name is left out.
    if (family.type !== type) continue
    family.samples.push(...samplesOf(name, labels, pair.metricState))
    families.set(name, family)
  }
  const lines: Array<string> = []
  for (const [name, family] of [...families].sort(([a], [b]) => a.localeCompare(b))) {
    if (family.help !== undefined) lines.push(`# HELP ${name} ${escapeHelp(family.help)}`)
    lines.push(`# TYPE ${name} ${family.type}`)
    lines.push(...family.samples)
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`
}
