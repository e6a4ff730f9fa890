// Original file: INT_BR_ORCH_CTRL.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AgentControl as _com_ericsson_adp_mgmt_control_AgentControl, AgentControl__Output as _com_ericsson_adp_mgmt_control_AgentControl__Output } from '../../../../../com/ericsson/adp/mgmt/control/AgentControl.js';
import type { OrchestratorControl as _com_ericsson_adp_mgmt_control_OrchestratorControl, OrchestratorControl__Output as _com_ericsson_adp_mgmt_control_OrchestratorControl__Output } from '../../../../../com/ericsson/adp/mgmt/control/OrchestratorControl.js';

export interface ControlInterfaceClient extends grpc.Client {
  establishControlChannel(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_com_ericsson_adp_mgmt_control_AgentControl, _com_ericsson_adp_mgmt_control_OrchestratorControl__Output>;
  establishControlChannel(options?: grpc.CallOptions): grpc.ClientDuplexStream<_com_ericsson_adp_mgmt_control_AgentControl, _com_ericsson_adp_mgmt_control_OrchestratorControl__Output>;
  
}

export interface ControlInterfaceHandlers extends grpc.UntypedServiceImplementation {
  establishControlChannel: grpc.handleBidiStreamingCall<_com_ericsson_adp_mgmt_control_AgentControl__Output, _com_ericsson_adp_mgmt_control_OrchestratorControl>;
  
}

export interface ControlInterfaceDefinition extends grpc.ServiceDefinition {
  establishControlChannel: MethodDefinition<_com_ericsson_adp_mgmt_control_AgentControl, _com_ericsson_adp_mgmt_control_OrchestratorControl, _com_ericsson_adp_mgmt_control_AgentControl__Output, _com_ericsson_adp_mgmt_control_OrchestratorControl__Output>
}
