// Original file: AgentControl.proto

import type { Action as _Action, Action__Output as _Action__Output } from '../../../../../Action.js';
import type { AgentMessageType as _com_ericsson_adp_mgmt_control_AgentMessageType, AgentMessageType__Output as _com_ericsson_adp_mgmt_control_AgentMessageType__Output } from '../../../../../com/ericsson/adp/mgmt/control/AgentMessageType.js';
import type { Register as _com_ericsson_adp_mgmt_control_Register, Register__Output as _com_ericsson_adp_mgmt_control_Register__Output } from '../../../../../com/ericsson/adp/mgmt/control/Register.js';
import type { StageComplete as _com_ericsson_adp_mgmt_control_StageComplete, StageComplete__Output as _com_ericsson_adp_mgmt_control_StageComplete__Output } from '../../../../../com/ericsson/adp/mgmt/control/StageComplete.js';
import type { AgentDependencies as _com_ericsson_adp_mgmt_control_AgentDependencies, AgentDependencies__Output as _com_ericsson_adp_mgmt_control_AgentDependencies__Output } from '../../../../../com/ericsson/adp/mgmt/control/AgentDependencies.js';
import type { PrepareDependency as _com_ericsson_adp_mgmt_control_PrepareDependency, PrepareDependency__Output as _com_ericsson_adp_mgmt_control_PrepareDependency__Output } from '../../../../../com/ericsson/adp/mgmt/control/PrepareDependency.js';
import type { ExecutionDependency as _com_ericsson_adp_mgmt_control_ExecutionDependency, ExecutionDependency__Output as _com_ericsson_adp_mgmt_control_ExecutionDependency__Output } from '../../../../../com/ericsson/adp/mgmt/control/ExecutionDependency.js';
import type { Metrics as _com_ericsson_adp_mgmt_control_Metrics, Metrics__Output as _com_ericsson_adp_mgmt_control_Metrics__Output } from '../../../../../com/ericsson/adp/mgmt/control/Metrics.js';
import type { CheckpointInformation as _CheckpointInformation, CheckpointInformation__Output as _CheckpointInformation__Output } from '../../../../../CheckpointInformation.js';

export interface AgentControl {
  'action'?: (_Action);
  'agentMessageType'?: (_com_ericsson_adp_mgmt_control_AgentMessageType);
  'register'?: (_com_ericsson_adp_mgmt_control_Register | null);
  'stageComplete'?: (_com_ericsson_adp_mgmt_control_StageComplete | null);
  'agentDependencies'?: (_com_ericsson_adp_mgmt_control_AgentDependencies | null);
  'prepareDependency'?: (_com_ericsson_adp_mgmt_control_PrepareDependency | null);
  'executionDependency'?: (_com_ericsson_adp_mgmt_control_ExecutionDependency | null);
  'metrics'?: (_com_ericsson_adp_mgmt_control_Metrics | null);
  'checkpointInformation'?: (_CheckpointInformation | null);
}

export interface AgentControl__Output {
  'action': (_Action__Output);
  'agentMessageType': (_com_ericsson_adp_mgmt_control_AgentMessageType__Output);
  'register': (_com_ericsson_adp_mgmt_control_Register__Output | null);
  'stageComplete': (_com_ericsson_adp_mgmt_control_StageComplete__Output | null);
  'agentDependencies': (_com_ericsson_adp_mgmt_control_AgentDependencies__Output | null);
  'prepareDependency': (_com_ericsson_adp_mgmt_control_PrepareDependency__Output | null);
  'executionDependency': (_com_ericsson_adp_mgmt_control_ExecutionDependency__Output | null);
  'metrics': (_com_ericsson_adp_mgmt_control_Metrics__Output | null);
  'checkpointInformation': (_CheckpointInformation__Output | null);
}
