"""The Gradio web demo: ``build_demo(editor, retriever) -> gr.Blocks`` (:mod:`demo.layout`), the
endpoint logic (:mod:`demo.handlers`), what the page shows (:mod:`demo.render`), start-up
(:mod:`demo.startup`) and the command line (:mod:`demo.app`)."""
