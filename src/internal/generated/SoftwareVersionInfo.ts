// Original file: SoftwareVersionInfo.proto


export interface SoftwareVersionInfo {
  'productName'?: (string);
  'productNumber'?: (string);
  'revision'?: (string);
  'productionDate'?: (string);
  'description'?: (string);
  'type'?: (string);
  'commercialVersion'?: (string);
  'semanticVersion'?: (string);
}

export interface SoftwareVersionInfo__Output {
  'productName': (string);
  'productNumber': (string);
  'revision': (string);
  'productionDate': (string);
  'description': (string);
  'type': (string);
  'commercialVersion': (string);
  'semanticVersion': (string);
}
