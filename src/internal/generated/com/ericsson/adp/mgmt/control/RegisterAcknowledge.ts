// Original file: OrchestratorControl.proto

import type { AgentFeature as _AgentFeature, AgentFeature__Output as _AgentFeature__Output } from '../../../../../AgentFeature.js';

export interface RegisterAcknowledge {
  'acknowledgeMessage'?: (string);
  'broSupportedAgentFeature'?: (_AgentFeature)[];
}

export interface RegisterAcknowledge__Output {
  'acknowledgeMessage': (string);
  'broSupportedAgentFeature': (_AgentFeature__Output)[];
}
