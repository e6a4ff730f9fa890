// Original file: OrchestratorControl.proto

import type { Action as _Action, Action__Output as _Action__Output } from '../../../../../Action.js';
import type { OrchestratorMessageType as _com_ericsson_adp_mgmt_control_OrchestratorMessageType, OrchestratorMessageType__Output as _com_ericsson_adp_mgmt_control_OrchestratorMessageType__Output } from '../../../../../com/ericsson/adp/mgmt/control/OrchestratorMessageType.js';
import type { RequestDependencies as _com_ericsson_adp_mgmt_control_RequestDependencies, RequestDependencies__Output as _com_ericsson_adp_mgmt_control_RequestDependencies__Output } from '../../../../../com/ericsson/adp/mgmt/control/RequestDependencies.js';
import type { Preparation as _com_ericsson_adp_mgmt_control_Preparation, Preparation__Output as _com_ericsson_adp_mgmt_control_Preparation__Output } from '../../../../../com/ericsson/adp/mgmt/control/Preparation.js';
import type { PrepareDependencyComplete as _com_ericsson_adp_mgmt_control_PrepareDependencyComplete, PrepareDependencyComplete__Output as _com_ericsson_adp_mgmt_control_PrepareDependencyComplete__Output } from '../../../../../com/ericsson/adp/mgmt/control/PrepareDependencyComplete.js';
import type { Execution as _com_ericsson_adp_mgmt_control_Execution, Execution__Output as _com_ericsson_adp_mgmt_control_Execution__Output } from '../../../../../com/ericsson/adp/mgmt/control/Execution.js';
import type { ExecutionDependencyComplete as _com_ericsson_adp_mgmt_control_ExecutionDependencyComplete, ExecutionDependencyComplete__Output as _com_ericsson_adp_mgmt_control_ExecutionDependencyComplete__Output } from '../../../../../com/ericsson/adp/mgmt/control/ExecutionDependencyComplete.js';
import type { PostActions as _com_ericsson_adp_mgmt_control_PostActions, PostActions__Output as _com_ericsson_adp_mgmt_control_PostActions__Output } from '../../../../../com/ericsson/adp/mgmt/control/PostActions.js';
import type { CancelBackupRestore as _CancelBackupRestore, CancelBackupRestore__Output as _CancelBackupRestore__Output } from '../../../../../CancelBackupRestore.js';
import type { CheckpointListEntry as _com_ericsson_adp_mgmt_control_CheckpointListEntry, CheckpointListEntry__Output as _com_ericsson_adp_mgmt_control_CheckpointListEntry__Output } from '../../../../../com/ericsson/adp/mgmt/control/CheckpointListEntry.js';
import type { BackupInformation as _com_ericsson_adp_mgmt_control_BackupInformation, BackupInformation__Output as _com_ericsson_adp_mgmt_control_BackupInformation__Output } from '../../../../../com/ericsson/adp/mgmt/control/BackupInformation.js';
import type { MetricsRequest as _com_ericsson_adp_mgmt_control_MetricsRequest, MetricsRequest__Output as _com_ericsson_adp_mgmt_control_MetricsRequest__Output } from '../../../../../com/ericsson/adp/mgmt/control/MetricsRequest.js';
import type { FragmentListEntry as _com_ericsson_adp_mgmt_control_FragmentListEntry, FragmentListEntry__Output as _com_ericsson_adp_mgmt_control_FragmentListEntry__Output } from '../../../../../com/ericsson/adp/mgmt/control/FragmentListEntry.js';
import type { RegisterAcknowledge as _com_ericsson_adp_mgmt_control_RegisterAcknowledge, RegisterAcknowledge__Output as _com_ericsson_adp_mgmt_control_RegisterAcknowledge__Output } from '../../../../../com/ericsson/adp/mgmt/control/RegisterAcknowledge.js';

export interface OrchestratorControl {
  'action'?: (_Action);
  'orchestratorMessageType'?: (_com_ericsson_adp_mgmt_control_OrchestratorMessageType);
  'requestDependencies'?: (_com_ericsson_adp_mgmt_control_RequestDependencies | null);
  'preparation'?: (_com_ericsson_adp_mgmt_control_Preparation | null);
  'prepareDependencyComplete'?: (_com_ericsson_adp_mgmt_control_PrepareDependencyComplete | null);
  'execution'?: (_com_ericsson_adp_mgmt_control_Execution | null);
  'executionDependencyComplete'?: (_com_ericsson_adp_mgmt_control_ExecutionDependencyComplete | null);
  'postActions'?: (_com_ericsson_adp_mgmt_control_PostActions | null);
  'cancel'?: (_CancelBackupRestore | null);
  'checkpointListEntry'?: (_com_ericsson_adp_mgmt_control_CheckpointListEntry | null);
  'backupInformation'?: (_com_ericsson_adp_mgmt_control_BackupInformation | null);
  'metricsRequest'?: (_com_ericsson_adp_mgmt_control_MetricsRequest | null);
  'fragmentListEntry'?: (_com_ericsson_adp_mgmt_control_FragmentListEntry | null);
  'registerAcknowledge'?: (_com_ericsson_adp_mgmt_control_RegisterAcknowledge | null);
}

export interface OrchestratorControl__Output {
  'action': (_Action__Output);
  'orchestratorMessageType': (_com_ericsson_adp_mgmt_control_OrchestratorMessageType__Output);
  'requestDependencies': (_com_ericsson_adp_mgmt_control_RequestDependencies__Output | null);
  'preparation': (_com_ericsson_adp_mgmt_control_Preparation__Output | null);
  'prepareDependencyComplete': (_com_ericsson_adp_mgmt_control_PrepareDependencyComplete__Output | null);
  'execution': (_com_ericsson_adp_mgmt_control_Execution__Output | null);
  'executionDependencyComplete': (_com_ericsson_adp_mgmt_control_ExecutionDependencyComplete__Output | null);
  'postActions': (_com_ericsson_adp_mgmt_control_PostActions__Output | null);
  'cancel': (_CancelBackupRestore__Output | null);
  'checkpointListEntry': (_com_ericsson_adp_mgmt_control_CheckpointListEntry__Output | null);
  'backupInformation': (_com_ericsson_adp_mgmt_control_BackupInformation__Output | null);
  'metricsRequest': (_com_ericsson_adp_mgmt_control_MetricsRequest__Output | null);
  'fragmentListEntry': (_com_ericsson_adp_mgmt_control_FragmentListEntry__Output | null);
  'registerAcknowledge': (_com_ericsson_adp_mgmt_control_RegisterAcknowledge__Output | null);
}
