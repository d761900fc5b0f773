// Tensors module
