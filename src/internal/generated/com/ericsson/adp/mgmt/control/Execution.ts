// Original file: OrchestratorControl.proto


export interface Execution {
}

export interface Execution__Output {
}
