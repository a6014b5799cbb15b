// Similar questions and documents while a question's title is typed (issue 17). Progressive
// enhancement: the ask form works without it; this only fills #similar from /questions/similar.
(function () {
  "use strict";
  var title = document.getElementById("title");
  var box = document.getElementById("similar");
  if (!title || !box) { return; }
  var timer = null, last = "";
  function look() {
    var q = title.value.trim();
    if (q === last) { return; }
    last = q;
    if (q.length < 4) { box.innerHTML = ""; return; }
    fetch("/questions/similar?q=" + encodeURIComponent(q), {credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) { if (title.value.trim() === q) { box.innerHTML = html; } })
      .catch(function () { box.innerHTML = ""; });
  }
  title.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(look, 300); });
}());
