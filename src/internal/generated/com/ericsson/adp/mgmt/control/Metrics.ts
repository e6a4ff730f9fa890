// Original file: AgentControl.proto

import type { ResponseType as _com_ericsson_adp_mgmt_control_ResponseType, ResponseType__Output as _com_ericsson_adp_mgmt_control_ResponseType__Output } from '../../../../../com/ericsson/adp/mgmt/control/ResponseType.js';

export interface Metrics {
  'name'?: (string);
  'responseType'?: (_com_ericsson_adp_mgmt_control_ResponseType);
  'metricInformation'?: (string);
}

export interface Metrics__Output {
  'name': (string);
  'responseType': (_com_ericsson_adp_mgmt_control_ResponseType__Output);
  'metricInformation': (string);
}
