import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { CancelBackupRestore as _CancelBackupRestore, CancelBackupRestore__Output as _CancelBackupRestore__Output } from './CancelBackupRestore.js';
import type { CheckpointInformation as _CheckpointInformation, CheckpointInformation__Output as _CheckpointInformation__Output } from './CheckpointInformation.js';
import type { Fragment as _Fragment, Fragment__Output as _Fragment__Output } from './Fragment.js';
import type { SoftwareVersionInfo as _SoftwareVersionInfo, SoftwareVersionInfo__Output as _SoftwareVersionInfo__Output } from './SoftwareVersionInfo.js';
import type { AgentControl as _com_ericsson_adp_mgmt_control_AgentControl, AgentControl__Output as _com_ericsson_adp_mgmt_control_AgentControl__Output } from './com/ericsson/adp/mgmt/control/AgentControl.js';
import type { AgentDependencies as _com_ericsson_adp_mgmt_control_AgentDependencies, AgentDependencies__Output as _com_ericsson_adp_mgmt_control_AgentDependencies__Output } from './com/ericsson/adp/mgmt/control/AgentDependencies.js';
import type { BackupInformation as _com_ericsson_adp_mgmt_control_BackupInformation, BackupInformation__Output as _com_ericsson_adp_mgmt_control_BackupInformation__Output } from './com/ericsson/adp/mgmt/control/BackupInformation.js';
import type { CheckpointListEntry as _com_ericsson_adp_mgmt_control_CheckpointListEntry, CheckpointListEntry__Output as _com_ericsson_adp_mgmt_control_CheckpointListEntry__Output } from './com/ericsson/adp/mgmt/control/CheckpointListEntry.js';
import type { ControlInterfaceClient as _com_ericsson_adp_mgmt_control_ControlInterfaceClient, ControlInterfaceDefinition as _com_ericsson_adp_mgmt_control_ControlInterfaceDefinition } from './com/ericsson/adp/mgmt/control/ControlInterface.js';
import type { Execution as _com_ericsson_adp_mgmt_control_Execution, Execution__Output as _com_ericsson_adp_mgmt_control_Execution__Output } from './com/ericsson/adp/mgmt/control/Execution.js';
import type { ExecutionDependency as _com_ericsson_adp_mgmt_control_ExecutionDependency, ExecutionDependency__Output as _com_ericsson_adp_mgmt_control_ExecutionDependency__Output } from './com/ericsson/adp/mgmt/control/ExecutionDependency.js';
import type { ExecutionDependencyComplete as _com_ericsson_adp_mgmt_control_ExecutionDependencyComplete, ExecutionDependencyComplete__Output as _com_ericsson_adp_mgmt_control_ExecutionDependencyComplete__Output } from './com/ericsson/adp/mgmt/control/ExecutionDependencyComplete.js';
import type { FragmentListEntry as _com_ericsson_adp_mgmt_control_FragmentListEntry, FragmentListEntry__Output as _com_ericsson_adp_mgmt_control_FragmentListEntry__Output } from './com/ericsson/adp/mgmt/control/FragmentListEntry.js';
import type { Metrics as _com_ericsson_adp_mgmt_control_Metrics, Metrics__Output as _com_ericsson_adp_mgmt_control_Metrics__Output } from './com/ericsson/adp/mgmt/control/Metrics.js';
import type { MetricsRequest as _com_ericsson_adp_mgmt_control_MetricsRequest, MetricsRequest__Output as _com_ericsson_adp_mgmt_control_MetricsRequest__Output } from './com/ericsson/adp/mgmt/control/MetricsRequest.js';
import type { OrchestratorControl as _com_ericsson_adp_mgmt_control_OrchestratorControl, OrchestratorControl__Output as _com_ericsson_adp_mgmt_control_OrchestratorControl__Output } from './com/ericsson/adp/mgmt/control/OrchestratorControl.js';
import type { PostActions as _com_ericsson_adp_mgmt_control_PostActions, PostActions__Output as _com_ericsson_adp_mgmt_control_PostActions__Output } from './com/ericsson/adp/mgmt/control/PostActions.js';
import type { Preparation as _com_ericsson_adp_mgmt_control_Preparation, Preparation__Output as _com_ericsson_adp_mgmt_control_Preparation__Output } from './com/ericsson/adp/mgmt/control/Preparation.js';
import type { PrepareDependency as _com_ericsson_adp_mgmt_control_PrepareDependency, PrepareDependency__Output as _com_ericsson_adp_mgmt_control_PrepareDependency__Output } from './com/ericsson/adp/mgmt/control/PrepareDependency.js';
import type { PrepareDependencyComplete as _com_ericsson_adp_mgmt_control_PrepareDependencyComplete, PrepareDependencyComplete__Output as _com_ericsson_adp_mgmt_control_PrepareDependencyComplete__Output } from './com/ericsson/adp/mgmt/control/PrepareDependencyComplete.js';
import type { Register as _com_ericsson_adp_mgmt_control_Register, Register__Output as _com_ericsson_adp_mgmt_control_Register__Output } from './com/ericsson/adp/mgmt/control/Register.js';
import type { RegisterAcknowledge as _com_ericsson_adp_mgmt_control_RegisterAcknowledge, RegisterAcknowledge__Output as _com_ericsson_adp_mgmt_control_RegisterAcknowledge__Output } from './com/ericsson/adp/mgmt/control/RegisterAcknowledge.js';
import type { RequestDependencies as _com_ericsson_adp_mgmt_control_RequestDependencies, RequestDependencies__Output as _com_ericsson_adp_mgmt_control_RequestDependencies__Output } from './com/ericsson/adp/mgmt/control/RequestDependencies.js';
import type { StageComplete as _com_ericsson_adp_mgmt_control_StageComplete, StageComplete__Output as _com_ericsson_adp_mgmt_control_StageComplete__Output } from './com/ericsson/adp/mgmt/control/StageComplete.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  Action: EnumTypeDefinition
  AgentFeature: EnumTypeDefinition
  CancelBackupRestore: MessageTypeDefinition<_CancelBackupRestore, _CancelBackupRestore__Output>
  CheckpointInformation: MessageTypeDefinition<_CheckpointInformation, _CheckpointInformation__Output>
  Fragment: MessageTypeDefinition<_Fragment, _Fragment__Output>
  SoftwareVersionInfo: MessageTypeDefinition<_SoftwareVersionInfo, _SoftwareVersionInfo__Output>
  com: {
    ericsson: {
      adp: {
        mgmt: {
          control: {
            AgentControl: MessageTypeDefinition<_com_ericsson_adp_mgmt_control_AgentControl, _com_ericsson_adp_mgmt_control_AgentControl__Output>
            AgentDependencies: MessageTypeDefinition<_com_ericsson_adp_mgmt_control_AgentDependencies, _com_ericsson_adp_mgmt_control_AgentDependencies__Output>
            AgentMessageType: EnumTypeDefinition
            BackendType: EnumTypeDefinition
            BackupInformation: MessageTypeDefinition<_com_ericsson_adp_mgmt_control_BackupInformation, _com_ericsson_adp_mgmt_control_BackupInformation__Output>
            CheckpointListEntry: MessageTypeDefinition<_com_ericsson_adp_mgmt_control_CheckpointListEntry, _com_ericsson_adp_mgmt_control_CheckpointListEntry__Output>
            ControlInterface: SubtypeConstructor<typeof grpc.Client, _com_ericsson_adp_mgmt_control_ControlInterfaceClient> & { service: _com_ericsson_adp_mgmt_control_ControlInterfaceDefinition }
            Execution: MessageTypeDefinition<_com_ericsson_adp_mgmt_control_Execution, _com_ericsson_adp_mgmt_control_Execution__Output>
            ExecutionDependency: MessageTypeDefinition<_com_ericsson_adp_mgmt_control_ExecutionDependency, _com_ericsson_adp_mgmt_control_ExecutionDependency__Output>
            ExecutionDependencyComplete: MessageTypeDefinition<_com_ericsson_adp_mgmt_control_ExecutionDependencyComplete, _com_ericsson_adp_mgmt_control_ExecutionDependencyComplete__Output>
            FragmentListEntry: MessageTypeDefinition<_com_ericsson_adp_mgmt_control_FragmentListEntry, _com_ericsson_adp_mgmt_control_FragmentListEntry__Output>
            Metrics: MessageTypeDefinition<_com_ericsson_adp_mgmt_control_Metrics, _com_ericsson_adp_mgmt_control_Metrics__Output>
            MetricsRequest: MessageTypeDefinition<_com_ericsson_adp_mgmt_control_MetricsRequest, _com_ericsson_adp_mgmt_control_MetricsRequest__Output>
            OrchestratorControl: MessageTypeDefinition<_com_ericsson_adp_mgmt_control_OrchestratorControl, _com_ericsson_adp_mgmt_control_OrchestratorControl__Output>
            OrchestratorMessageType: EnumTypeDefinition
            PostActions: MessageTypeDefinition<_com_ericsson_adp_mgmt_control_PostActions, _com_ericsson_adp_mgmt_control_PostActions__Output>
            Preparation: MessageTypeDefinition<_com_ericsson_adp_mgmt_control_Preparation, _com_ericsson_adp_mgmt_control_Preparation__Output>
            PrepareDependency: MessageTypeDefinition<_com_ericsson_adp_mgmt_control_PrepareDependency, _com_ericsson_adp_mgmt_control_PrepareDependency__Output>
            PrepareDependencyComplete: MessageTypeDefinition<_com_ericsson_adp_mgmt_control_PrepareDependencyComplete, _com_ericsson_adp_mgmt_control_PrepareDependencyComplete__Output>
            Register: MessageTypeDefinition<_com_ericsson_adp_mgmt_control_Register, _com_ericsson_adp_mgmt_control_Register__Output>
            RegisterAcknowledge: MessageTypeDefinition<_com_ericsson_adp_mgmt_control_RegisterAcknowledge, _com_ericsson_adp_mgmt_control_RegisterAcknowledge__Output>
            RequestDependencies: MessageTypeDefinition<_com_ericsson_adp_mgmt_control_RequestDependencies, _com_ericsson_adp_mgmt_control_RequestDependencies__Output>
            ResponseType: EnumTypeDefinition
            StageComplete: MessageTypeDefinition<_com_ericsson_adp_mgmt_control_StageComplete, _com_ericsson_adp_mgmt_control_StageComplete__Output>
          }
        }
      }
    }
  }
}

