export {
  CheckpointError,
  CheckpointErrorCode,
  CheckpointMismatchError,
  SaveError,
  SAVE_ERROR_CODE,
  type TensorMismatch,
} from './errors.js';
export { writeFileAtomic, cleanStaleTemps, withPathLock, type WriteFileAtomicOptions } from './atomic.js';
export {
  encodeTensorFile,
  encodeTensorFileToBytes,
  decodeTensorFile,
  loadTensorFile,
  saveTensorFile,
  MAGIC,
  END_MAGIC,
  FORMAT_VERSION,
  ALIGNMENT,
  MAX_HEADER_BYTES,
  type DType,
  type TypedArray,
  type JsonValue,
  type JsonObject,
  type TensorInput,
  type TensorFileContent,
  type TensorInfo,
  type ExpectedTensor,
  type LoadTensorFileOptions,
  type TensorFileData,
  type SaveTensorFileOptions,
} from './tensorfile.js';
export { crc32 } from './crc32.js';
