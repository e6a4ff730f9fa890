// Original file: AgentControl.proto


export interface PrepareDependency {
  'agentId'?: (string)[];
}

export interface PrepareDependency__Output {
  'agentId': (string)[];
}
