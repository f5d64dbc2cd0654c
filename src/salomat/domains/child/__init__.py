"""The electronic mother-and-child health passport: newborn data, growth, well-child visits."""
