// Original file: AgentControl.proto

import type { SoftwareVersionInfo as _SoftwareVersionInfo, SoftwareVersionInfo__Output as _SoftwareVersionInfo__Output } from '../../../../../SoftwareVersionInfo.js';
import type { BackendType as _com_ericsson_adp_mgmt_control_BackendType, BackendType__Output as _com_ericsson_adp_mgmt_control_BackendType__Output } from '../../../../../com/ericsson/adp/mgmt/control/BackendType.js';
import type { AgentFeature as _AgentFeature, AgentFeature__Output as _AgentFeature__Output } from '../../../../../AgentFeature.js';

export interface Register {
  'agentId'?: (string);
  'softwareVersionInfo'?: (_SoftwareVersionInfo | null);
  'apiVersion'?: (string);
  'scope'?: (string);
  'backendType'?: (_com_ericsson_adp_mgmt_control_BackendType);
  'agentFeature'?: (_AgentFeature)[];
}

export interface Register__Output {
  'agentId': (string);
  'softwareVersionInfo': (_SoftwareVersionInfo__Output | null);
  'apiVersion': (string);
  'scope': (string);
  'backendType': (_com_ericsson_adp_mgmt_control_BackendType__Output);
  'agentFeature': (_AgentFeature__Output)[];
}
