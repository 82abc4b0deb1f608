"""Bundled aligners: where in each frame the generator's crop is taken.

``face`` finds and tracks a face (dlib's HOG detector and 68-point landmarks, from the
optional ``faces`` extra: ``pip install -e ".[faces]"`` in the source checkout) and crops
it the way FFHQ was made, smoothed over time; ``center`` (the centred square, today's default), ``box:X,Y,W,H``
(a fixed box) and ``none`` (the whole frame, stretched) need no model. Modules are
imported lazily: importing this package imports neither dlib nor OpenCV.
"""

from dynode_core import hookimpl, lazy


@hookimpl
def register_aligners(register):
    register("face", lazy("dynode_faces.face:FaceAligner"),
             description="a tracked face, FFHQ-aligned and smoothed (needs the faces extra: "
                         'pip install -e ".[faces]" in the dynode source checkout)',
             extra="faces")
    register("center", lazy("dynode_faces.simple:CenterAligner"),
             description="the centred square of every frame (the default)")
    register("box", lazy("dynode_faces.simple:BoxAligner"),
             description="a fixed box, box:X,Y,W,H in frame pixels")
    register("none", lazy("dynode_faces.simple:WholeAligner"),
             description="the whole frame, resized (aspect ratio not kept)")


@hookimpl
def register_metrics(register):
    register("face-embeddings", lazy("dynode_faces.identity:face_embeddings"),
             description="unit 128-D identity embeddings of the face at given 68 landmarks "
                         "(dlib's face-recognition ResNet; frames=, landmarks=)")
