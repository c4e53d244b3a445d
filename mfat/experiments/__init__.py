"""The measurements behind the chapters, one module per topic; chapters call these, never copy them."""
