package transport

// EncodeFrameForTest exposes encodeFrame to the external tests.
var EncodeFrameForTest = encodeFrame
