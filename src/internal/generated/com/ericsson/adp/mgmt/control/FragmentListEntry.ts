// Original file: OrchestratorControl.proto

import type { Fragment as _Fragment, Fragment__Output as _Fragment__Output } from '../../../../../Fragment.js';

export interface FragmentListEntry {
  'fragment'?: (_Fragment | null);
  'last'?: (boolean);
}

export interface FragmentListEntry__Output {
  'fragment': (_Fragment__Output | null);
  'last': (boolean);
}
