// Original file: OrchestratorControl.proto


export interface PostActions {
}

export interface PostActions__Output {
}
