"""The Gradio web demo: ``build_demo(editor, retriever) -> gr.Blocks`` (see :mod:`demo.app`)."""
