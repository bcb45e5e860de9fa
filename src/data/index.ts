/**
 * The data pipeline: readers, tokenizer, vocabulary, encoded datasets,
 * splits, batching and augmentation. Plain TypeScript on node: built-ins.
 */
export { DataError, DataFormatError, DataEncodingError, DataLabelError, DataEmptyError, DataFileError, VocabError, DataStateError } from './errors.js';
export type { DataLocation } from './errors.js';
export { LineSplitter } from './lines.js';
export type { TextEncoding, LineHandler, LineStats } from './lines.js';
export { DataReader, readExamples, formatFromExtension, sniffFormat } from './reader.js';
export type { DataFormat, Example, ReadOptions, OnError, DataSummary, SkipCounts } from './reader.js';
export { LabelMap, LabelMapBuilder, isIntegerLabel, sortLabels } from './labels.js';
export type { LabelKind } from './labels.js';
export { Tokenizer, kimClean, splitWhitespace } from './tokenizer.js';
export type { TokenizerConfig, TokenizerMode } from './tokenizer.js';
export { TokenCounter, Vocabulary } from './vocab.js';
export type { SpecialTokens, BuildVocabOptions } from './vocab.js';
export { EncodedDataset, EncodedDatasetBuilder, scanTrainingData, encodeFile, loadTrainingData, stratifiedSplit, kFold } from './dataset.js';
export type { EncodeOptions } from './dataset.js';
export { DataLoader } from './loader.js';
export type { Batch, LoaderOptions, LoaderState } from './loader.js';
export { augmentIds } from './augment.js';
export type { AugmentOptions } from './augment.js';
export { Rng } from './random.js';
export type { RngState } from './random.js';
