// Original file: AgentControl.proto


export interface ExecutionDependency {
  'agentId'?: (string)[];
}

export interface ExecutionDependency__Output {
  'agentId': (string)[];
}
