/**
 * A fragment is the unit of backed-up data: one backup file, an optional
 * custom-metadata file, and a little information describing them.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * What the orchestrator records about a fragment and hands back at restore
 * time. `sizeInBytes` is a decimal number carried as text on the wire; the
 * orchestrator uses it as a hint only.
 *
 * @since 0.1.0
 * @category models
 */
export class FragmentInformation extends Schema.Class<FragmentInformation>("FragmentInformation")({
  fragmentId: Schema.String,
  version: Schema.String,
  sizeInBytes: Schema.String,
  customInformation: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String }), {
    default: () => ({})
  })
}) {}
