// Original file: Fragment.proto


export interface Fragment {
  'fragmentId'?: (string);
  'version'?: (string);
  'sizeInBytes'?: (string);
  'customInformation'?: ({[key: string]: string});
}

export interface Fragment__Output {
  'fragmentId': (string);
  'version': (string);
  'sizeInBytes': (string);
  'customInformation': ({[key: string]: string});
}
