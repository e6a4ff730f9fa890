// Original file: OrchestratorControl.proto


export interface ExecutionDependencyComplete {
  'agentId'?: (string)[];
}

export interface ExecutionDependencyComplete__Output {
  'agentId': (string)[];
}
