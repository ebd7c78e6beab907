"""The DeDUCE protocol on Fashion-MNIST (issue 17): the models (`deduce-train`), the paper's protocol
against JSMA and CFProto (`deduce-protocol`), float32 against float64 (`deduce-dtypes`)."""
