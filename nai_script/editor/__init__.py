"""The story editor behind `nai-script serve`: story model, context, pipeline, script UI."""
