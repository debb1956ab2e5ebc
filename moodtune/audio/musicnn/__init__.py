"""musicnn (Pons & Serra 2019) without TensorFlow: checkpoint reader, torch network, tagger."""
