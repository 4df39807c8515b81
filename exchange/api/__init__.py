"""The gRPC entrypoint: servicers that translate, and the request pipeline around them."""
