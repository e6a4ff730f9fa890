// Original file: OrchestratorControl.proto


export interface PrepareDependencyComplete {
  'agentId'?: (string)[];
}

export interface PrepareDependencyComplete__Output {
  'agentId': (string)[];
}
